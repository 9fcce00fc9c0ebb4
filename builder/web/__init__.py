"""The generated web app: pages and API assembled from the blueprint (Starlette + Jinja2)."""
