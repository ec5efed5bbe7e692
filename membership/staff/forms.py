"""Staff forms: shape and length checks only; the rules live in the service."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from membership.staff.service import PASSWORD_MAX
from membership.web.forms import strip_text


class SignInForm(FlaskForm):
    """First step of sign-in."""

    email = EmailField(
        "Email",
        filters=[strip_text],
        validators=[DataRequired("Enter your email."), Length(max=254)],
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=PASSWORD_MAX)],
    )


class CodeForm(FlaskForm):
    """The 6-digit code of the authenticator app: second step of sign-in, or enrolment."""

    code = StringField(
        "Code from your authenticator app",
        filters=[strip_text],
        validators=[DataRequired("Enter the 6-digit code."), Length(max=16)],
    )


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired("Enter it.")])
    new = PasswordField("New password (at least 12 characters)", validators=[DataRequired()])
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("new", "The two new passwords differ.")],
    )


class ConfirmPasswordForm(FlaskForm):
    """Password again before removing the second factor."""

    password = PasswordField("Current password", validators=[DataRequired("Enter it.")])


class SignOutForm(FlaskForm):
    """Only the CSRF token: signing out is a POST."""
