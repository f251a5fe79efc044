-- Who may see and change what, when the app is not local-only. Passwords are stored only as
-- argon2id hashes; session cookies and API tokens only as SHA-256 digests (they are random and
-- long, so a digest is enough, and a stolen table holds nothing that can be presented).

CREATE TABLE users (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    role text NOT NULL CHECK (role IN ('viewer', 'editor')),
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (                                  -- a browser's login (the cookie)
    token_sha256 text PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    csrf text NOT NULL,                                  -- sent back in X-CSRF-Token on writes
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE api_tokens (                                -- a script's credential
    id bigserial PRIMARY KEY,
    token_sha256 text NOT NULL UNIQUE,
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    label text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);

CREATE TABLE login_failures (                            -- the login rate limit's memory
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    client text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_at_idx ON login_failures (at);
