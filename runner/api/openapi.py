"""The OpenAPI document: quart-schema's, with the rules the routes check on path parameters.

quart-schema documents a ``<customer_id>`` path parameter as any string; the routes accept
only customer ids (`CUSTOMER_ID`) and answer 400 to any other, so the document says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart_schema.openapi import OpenAPIProvider

from runner.config import CUSTOMER_ID

if TYPE_CHECKING:
    from werkzeug.routing import BaseConverter

__all__ = ["OpenAPI"]


class OpenAPI(OpenAPIProvider):
    """quart-schema's provider, with the customer id's pattern on ``customer_id``."""

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        """Build a path parameter as quart-schema does; a customer id gets its pattern."""
        parameter = super().build_path_parameter(name, converter)
        if name == "customer_id":
            parameter["schema"] = {"type": "string", "pattern": CUSTOMER_ID}
            parameter["description"] = "The customer's id (``customerId`` in bodies and events)."
        return parameter
