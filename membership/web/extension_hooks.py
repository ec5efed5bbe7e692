"""The extensions' per-request hooks, only where they do something: Flask-Limiter's and
Flask-Login's on the blueprints that use them, Flask-WTF's on requests that can change
something."""

from __future__ import annotations

from flask import Flask, request

from membership.extensions import csrf, limiter, login_manager


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


def check_csrf_on_unsafe_methods_only(app: Flask) -> None:
    """Put a hook in place of Flask-WTF's that looks at the method first.

    Flask-WTF's hook (its ``csrf_protect``) checks a request's exemptions (the view's
    dotted name built afresh, the blueprint looked up) before the method, so every GET,
    which it then lets through, pays for them: a reader's first visit to the support page
    among them. Ours asks Flask-WTF to protect exactly the requests it would check, with
    the same exemptions and settings, in the same place among the hooks.
    """
    hooks = app.before_request_funcs.get(None, [])
    theirs = [hook for hook in hooks if hook.__name__ == "csrf_protect"]
    if len(theirs) != 1:
        raise RuntimeError("Flask-WTF's csrf_protect hook was not found: has Flask-WTF changed?")

    def protect_unsafe_methods() -> None:
        config = app.config
        if (
            request.method in config["WTF_CSRF_METHODS"]
            and config["WTF_CSRF_ENABLED"]
            and config["WTF_CSRF_CHECK_DEFAULT"]
        ):
            csrf.protect(apply_exemptions=True)

    hooks[hooks.index(theirs[0])] = protect_unsafe_methods
