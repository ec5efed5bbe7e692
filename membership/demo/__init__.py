"""Demo data: ``flask demo seed`` fills a development database with realistic activity."""
