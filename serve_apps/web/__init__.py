"""The web UI: static pages at / (gallery, deer, review, census, processing) and the JSON endpoints
they need beyond the REST API (thumbnails, crops, census charts, review queue)."""
