"""Demo users for every role, customers and transactions in every status (idempotent)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError

from payments.services import settlement_record
from transactions.models import Customer, Transaction
from transactions.services import customer_create, transaction_create

DEMO_USERS = [
    # username, password, first, last, roles, superuser
    ("admin", "admin-demo-pass", "Ana", "Reyes", ["admin"], True),
    ("cashier1", "cashier1-demo-pass", "Maria", "Santos", ["cashier"], False),
    ("cashier2", "cashier2-demo-pass", "Jose", "Garcia", ["cashier"], False),
    ("sales1", "sales1-demo-pass", "Liza", "Soberano", ["sales"], False),
    ("sales2", "sales2-demo-pass", "Paolo", "Cruz", ["sales"], False),
]

DEMO_CUSTOMERS = [
    ("Juan Dela Cruz", "0917 555 0101", "juan@example.com"),
    ("Rosa Mendoza", "0918 555 0102", ""),
    ("Pedro Bautista", "0919 555 0103", "pedro@example.com"),
    ("Carmen Villanueva", "0920 555 0104", ""),
]


class Command(BaseCommand):
    help = "Load demo users (every role), customers and transactions in every payment status."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument(
            "--insecure",
            action="store_true",
            help="Load even with debug off. The demo accounts' passwords are printed in the "
            "README and admin is a superuser: never on a shop's real database.",
        )

    def handle(self, *args, base_url: str, insecure: bool, **options) -> None:
        if not (settings.DEBUG or insecure):
            raise CommandError(
                "Debug is off: this looks like a real deployment, and the demo accounts have "
                "published passwords (admin is a superuser). Run it with DJANGO_DEBUG=1 (as "
                "./scripts/shop does), or pass --insecure if this database is a throwaway."
            )
        users = {}
        #: Whether each login still has its demo password (someone may have changed it).
        as_published = {}
        for username, password, first, last, roles, superuser in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "is_staff": True,
                    "is_superuser": superuser,
                },
            )
            if created:
                user.set_password(password)
                user.save()
            as_published[username] = created or user.check_password(password)
            user.groups.add(*Group.objects.filter(name__in=roles))
            users[username] = user

        if not Transaction.objects.exists():
            customers = [
                Customer.objects.filter(name=n).first()
                or customer_create(name=n, contact_number=c, email=e)
                for n, c, e in DEMO_CUSTOMERS
            ]
            plan = [
                # customer, sales agent, amount, settlements [(cashier, amount, mode)]
                (0, "sales1", "1500.00", []),
                (1, "sales1", "4200.00", [("cashier1", "2000.00", "gcash")]),
                (2, "sales2", "3250.50", [("cashier2", "3250.50", "credit_card")]),
                (
                    3,
                    "sales2",
                    "8900.00",
                    [("cashier1", "1000.00", "cash"), ("cashier1", "2500.00", "maya")],
                ),
                (0, "sales2", "2750.00", []),
                (2, "sales1", "12500.00", [("cashier2", "12500.00", "bank_transfer")]),
            ]
            for customer_index, agent, amount, payments in plan:
                txn = transaction_create(
                    customer=customers[customer_index],
                    amount=Decimal(amount),
                    created_by=users[agent],
                    payment_mode=payments[0][2] if payments else "cash",
                )
                for cashier, paid, mode in payments:
                    settlement_record(
                        transaction=txn,
                        amount=Decimal(paid),
                        payment_mode=mode,
                        recorded_by=users[cashier],
                    )

        self.stdout.write(self.style.SUCCESS("\nEscaShop demo is ready.\n"))
        self.stdout.write(f"  Shop page:    {base_url}/")
        self.stdout.write(f"  Django admin: {base_url}/admin/")
        self.stdout.write(f"  API docs:     {base_url}/api/docs/")
        self.stdout.write(f"  Websocket:    {base_url.replace('http', 'ws', 1)}/ws/\n")
        self.stdout.write("  Logins (username / password, role):")
        for username, password, _f, _l, roles, _s in DEMO_USERS:
            shown = password if as_published[username] else "(changed since)"
            self.stdout.write(f"    {username:<9} / {shown:<19} {', '.join(roles)}")
        self.stdout.write("")
