"""Form fields the Django admin shares with the API's rules."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from .money import money_parse


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
            raise ValidationError(exc.message_dict["amount"]) from None

    def validate(self, value) -> None:
        if value is None and self.required:
            raise ValidationError(self.error_messages["required"], code="required")
