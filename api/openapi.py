"""OpenAPI 3.1 built from the routes and the schemas resources declare."""

from __future__ import annotations

from typing import Any

import falcon

from api.policy import Access
from api.resources.base import Resource, send

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def build_spec(routes: list[tuple[str, object]]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for template, resource in routes:
        item: dict[str, Any] = {}
        policy = getattr(resource, "policy", {})
        schemas = getattr(resource, "schemas", {})
        for method in METHODS:
            if method not in policy:
                continue
            need = policy[method]
            operation: dict[str, Any] = {
                "summary": (resource.__class__.__doc__ or resource.__class__.__name__).strip().splitlines()[0],
                "x-access": need.value,
                "responses": {
                    "default": {"description": "problem+json on error", "content": {"application/problem+json": {}}}
                },
            }
            if need is not Access.PUBLIC:
                operation["security"] = [{"bearer": []}, {"cookie": []}]
            if method in schemas:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": schemas[method].openapi()}},
                }
            item[method.lower()] = operation
        if item:
            paths[template] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "Warden", "version": "0.1.0"},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "access_token"},
            }
        },
    }


class OpenApi(Resource):
    policy = {"GET": Access.PUBLIC}

    def __init__(self, deps: Any, routes: list[tuple[str, object]]) -> None:
        super().__init__(deps)
        self._routes = routes

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, build_spec(self._routes))
