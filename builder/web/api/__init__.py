"""The REST API under /api, generated from the blueprint (routes, schemas, OpenAPI, docs)."""
