"""Orchestration: each module carries out one resource's operations over the store (SQL) and
the domain (pure rules), deciding what one transaction holds. Instants are passed in."""
