"""Post-processing of the OpenAPI schema drf-spectacular generates (``SPECTACULAR_SETTINGS``)."""

from __future__ import annotations


def response_fields_required(result, generator, request, public):
    """Mark every property of a response component as required.

    Every response shape here is complete: each field is present in every answer, ``null``
    where it has no value (``next`` on the last page, ``cashier`` when unassigned) or ``""``
    (a customer's ``email``). drf-spectacular marks as required only what the serializer
    requires on input, so generated clients would type ``email``, ``next`` and ``previous``
    as optional. Request components (``...Request``) keep what drf-spectacular derived.
    ``tests/api/test_schema_fuzz.py`` checks real answers against the schema.
    """
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") or "properties" not in schema:
            continue
        schema["required"] = list(schema["properties"])
    return result
