"""Model wrappers for Thumper Counter: deer detector, individual embedder, weights and synthetic photos.

Knows nothing of Ray or SQL; the pipelines call these.
"""
