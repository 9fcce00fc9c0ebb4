"""Storage: the database tables a blueprint implies, the engine, migrations and encryption."""
