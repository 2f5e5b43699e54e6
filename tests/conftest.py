"""Shared fixtures: the named cast of users (SPEC roles) and a few ready transactions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User

from transactions.models import Customer
from transactions.services import customer_create, transaction_create


@pytest.fixture(autouse=True)
def _fresh_health_answers():
    """/healthz reuses an answer for a second (escashop/ops.py): each test's settings get
    their own checks."""
    from escashop.ops import HEALTH_ANSWERS

    HEALTH_ANSWERS.forget()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's deliberate slowness only slows the suite; tests need no brute-force resistance."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _user(username: str, *roles: str, **extra) -> User:
    user = User.objects.create_user(
        username=username, password=f"{username}-pass-123", first_name=username.title(), **extra
    )
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin_user(db) -> User:
    return _user("ada", "admin", last_name="Admin")


@pytest.fixture
def cashier(db) -> User:
    return _user("carla", "cashier", last_name="Cruz")


@pytest.fixture
def cashier2(db) -> User:
    return _user("carlo", "cashier", last_name="Reyes")


@pytest.fixture
def sales(db) -> User:
    return _user("sam", "sales", last_name="Santos")


@pytest.fixture
def sales2(db) -> User:
    return _user("sofia", "sales", last_name="Lim")


@pytest.fixture
def nobody(db) -> User:
    """An active user with no role: may log in, may see nothing."""
    return _user("nora")


@pytest.fixture
def inactive(db) -> User:
    return _user("ines", "admin", is_active=False)


@pytest.fixture
def staff(admin_user, cashier, sales, sales2):
    """The cast above as staff (they may open the Django admin), with the role groups'
    admin permissions granted; the admin (``ada``) is returned."""
    for user in (admin_user, cashier, sales, sales2):
        user.is_staff = True
        user.save()
    from transactions.roles import role_permissions_sync

    role_permissions_sync()
    return admin_user


@pytest.fixture
def customer(db) -> Customer:
    return customer_create(name="Juan Dela Cruz", contact_number="0917 123 4567")


@pytest.fixture
def make_transaction(customer, sales):
    def make(amount: str = "1000.00", created_by=None, **kwargs):
        return transaction_create(
            customer=kwargs.pop("customer", customer),
            amount=Decimal(amount),
            created_by=created_by or sales,
            **kwargs,
        )

    return make


@pytest.fixture
def daphne_server(transactional_db):
    """A running daphne on a free loopback port, sharing this test's PostgreSQL and Redis.

    Needs PostgreSQL and Redis (skips, or fails under ESCASHOP_REQUIRE_SERVICES=1).
    Data must be committed to be seen by the server: use it from transaction=True tests.
    """
    from tests.support.daphne import DaphneServer
    from tests.support.services import require_postgres, require_redis

    require_postgres()
    require_redis()
    server = DaphneServer().start()
    yield server
    server.stop()
