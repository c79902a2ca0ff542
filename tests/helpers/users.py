"""Test users and their identities (09 §8.4)."""

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

from flask import current_app
from flask_principal import Identity, identity_loaded
from invenio_accounts.models import User
from invenio_db import db

DEFAULT_PASSWORD = "test-password-123"


@dataclass
class TestUser:
    """A created user; ``identity`` is rebuilt on every access, so it is never stale."""

    __test__ = False  # not a pytest test class

    user: User
    password: str

    @property
    def id(self):
        """The user id as a string (what invenio-stats' ``get_user`` sends)."""
        return str(self.user.id)

    @property
    def email(self):
        """The user's e-mail."""
        return self.user.email

    @property
    def identity(self):
        """A fresh identity with every need a logged-in request would have."""
        return identity_for(self.user)


def make_user(
    email=None,
    *,
    password=DEFAULT_PASSWORD,
    username=None,
    active=True,
    confirmed=True,
    roles=(),
):
    """Create (or return the existing) user ``email`` with the accounts datastore.

    The user is active and confirmed by default. ``roles`` are role names, created when
    missing. Returns a :class:`TestUser`; its ``identity`` carries ``any_user``,
    ``authenticated_user``, the user's ``UserNeed``/``RoleNeed``s and its community
    role needs.
    """
    from flask_security.utils import hash_password

    datastore = current_app.extensions["security"].datastore
    if email is None:
        email = f"user-{uuid4().hex[:10]}@example.org"
    existing = datastore.find_user(email=email)
    if existing is not None:
        return TestUser(existing, password)

    data = dict(
        email=email,
        password=hash_password(password),
        active=active,
        confirmed_at=datetime.now(UTC) if confirmed else None,
    )
    if username is not None:
        data["username"] = username
    with db.session.begin_nested():
        user = datastore.create_user(**data)
        for role_name in roles:
            role = datastore.find_or_create_role(role_name)
            datastore.add_role_to_user(user, role)
        db.session.add(user)
    datastore.mark_changed(id(db.session), uid=user.id)
    datastore.commit()
    return TestUser(user, password)


def identity_for(user):
    """Return a fully loaded identity for a ``User``, a :class:`TestUser` or an id.

    Runs the app's ``identity_loaded`` receivers inside a request context with the user
    logged in, like a real request: invenio-access adds ``any_user`` and
    ``authenticated_user``, flask-security adds ``UserNeed`` and ``RoleNeed``s and
    invenio-communities adds the community role needs. The communities identity cache is
    cleared first, so memberships made since the last call are always seen.
    """
    from flask_login import login_user, logout_user
    from invenio_communities.utils import on_user_membership_change

    if isinstance(user, TestUser):
        user = user.user
    elif not isinstance(user, User):
        user = db.session.get(User, int(user))

    app = current_app._get_current_object()
    on_user_membership_change(Identity(user.id))
    with app.test_request_context():
        login_user(user)
        identity = Identity(user.id)
        identity_loaded.send(app, identity=identity)
        logout_user()
    identity.user = user
    return identity
