"""Chalice blueprints: thin routes from HTTP into the domain modules. app.py registers them."""
