"""Lambda entry points: thin Powertools adapters around the service."""
