"""Flask-Limiter's and Flask-Login's per-request hooks, only where they are used."""

from __future__ import annotations

from flask import Flask

from membership.extensions import limiter, login_manager


def keep_to(app: Flask, blueprints: tuple[str, ...]) -> None:
    """Run Flask-Limiter's and Flask-Login's request hooks only for the blueprints that use
    them. Every limit is on a decorated view, which checks itself, and only staff pages sign
    in; app-wide, the hooks cost every other request (the support page, Stripe's webhooks)
    time for nothing.
    """
    app_hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in app_hooks:  # absent when RATELIMIT_ENABLED is off
        app_hooks.remove(limiter._check_request_limit)
    owned = (limiter, login_manager)
    for hooks in (app.after_request_funcs, app.teardown_request_funcs):
        theirs = [
            hook
            for hook in hooks[None]
            if getattr(hook, "__self__", None) in owned or owned[0] in getattr(hook, "args", ())
        ]
        hooks[None] = [hook for hook in hooks[None] if hook not in theirs]
        for blueprint in blueprints:
            hooks.setdefault(blueprint, []).extend(theirs)
