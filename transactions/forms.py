"""Form fields the Django admin shares with the API's rules."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from .models import Transaction
from .money import money_parse
from .services import or_number_check, transaction_date_check


class MoneyFormField(forms.DecimalField):
    """An admin money field read by ``money_parse``, as the API reads amounts: plain ASCII
    decimals only. Django's own field hands ``Decimal("1e3")`` or Arabic-Indic digits on
    as numbers, which the API refuses."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return money_parse(str(value))
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None

    def validate(self, value) -> None:
        if value is None and self.required:
            raise ValidationError(self.error_messages["required"], code="required")


class TransactionAddForm(forms.ModelForm):
    """The admin's add form: the service's rules for a typed-in OR number and the sale date
    checked at their fields, so a refusal keeps what was typed and says where."""

    class Meta:
        model = Transaction
        fields = ["customer", "or_number", "amount", "payment_mode", "transaction_date"]

    def clean_or_number(self) -> str:
        or_number = (self.cleaned_data.get("or_number") or "").strip()
        if or_number:
            _field_check(or_number_check, or_number)
        return or_number

    def clean_transaction_date(self):
        when = self.cleaned_data.get("transaction_date")
        if when is not None:
            _field_check(transaction_date_check, when)
        return when


def _field_check(check, value) -> None:
    try:
        check(value)
    except ValidationError as exc:
        raise ValidationError(exc.messages) from None
