"""`thumper users`: who may log in to the app (`thumper serve`), with which role, and their API tokens."""
from __future__ import annotations

import argparse
import getpass
import sys

EXIT_BAD_INPUT = 2


def register(sub, add_db) -> None:
    from store.accounts import MIN_PASSWORD, ROLES

    p = sub.add_parser(
        "users", help="add, list and remove the users who may log in to the app, and their API tokens",
        description="Users of the app served by `thumper serve` (when it is not --local-only, every route but "
                    "/health needs a login or an API token). Viewers read everything; editors also make "
                    "corrections, upload photos and submit jobs. Passwords are stored as argon2id hashes, "
                    "tokens as SHA-256 digests.",
        epilog="Examples:\n  thumper users add ana --role editor        (asks for the password twice)\n"
               "  printf '%s\\n' \"$PW\" | thumper users add cam --password-stdin   (for scripts)\n"
               "  thumper users token ana --label backup-script   (prints the token once)\n"
               "  thumper users list\n  thumper users remove cam",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = acts.add_parser("add", help="add a user (the password is asked for twice, or read with --password-stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="viewer", help="viewer (default) or editor")
    acts.add_parser("list", help="list users with their role, tokens and live sessions")
    remove = acts.add_parser("remove", help="remove a user, with their sessions and tokens")
    remove.add_argument("name")
    role = acts.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    passwd = acts.add_parser("passwd", help=f"set a new password (at least {MIN_PASSWORD} characters); "
                                            "logs the user out everywhere")
    passwd.add_argument("name")
    token = acts.add_parser("token", help="make an API token for scripts (X-API-Key or Authorization: Bearer); "
                                          "printed once, only its digest is kept")
    token.add_argument("name")
    token.add_argument("--label", default="", help="what the token is for")
    revoke = acts.add_parser("revoke", help="revoke every API token of a user")
    revoke.add_argument("name")
    for q in (add, passwd):  # a password on the command line would be visible in ps
        q.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    for q in (add, remove, role, passwd, token, revoke, acts.choices["list"]):
        add_db(q)
    p.set_defaults(handler=cmd_users)


def _password(name: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ValueError(f"no terminal to ask for {name}'s password: pipe it in with --password-stdin")
    first = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ; nothing was changed")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    from store import Store
    from store.accounts import AccountError
    from thumper.render import table

    store = Store.open(args.db)
    accounts = store.accounts
    try:
        if args.action == "add":
            account = accounts.add_user(args.name, args.role, _password(args.name, args.password_stdin))
            print(f"added {account.name} ({account.role})")
        elif args.action == "list":
            users = accounts.users()
            if not users:
                print("no users yet: thumper users add NAME --role editor")
                return 0
            for u in users:
                u["created"] = f"{u['created_at']:%Y-%m-%d %H:%M}"
                u["last_token_use"] = f"{u['token_last_used']:%Y-%m-%d %H:%M}" if u["token_last_used"] else ""
            print(table(users, [("name", "user"), ("role", "role"), ("created", "created"), ("tokens", "tokens"),
                                ("last_token_use", "token last used"), ("sessions", "logged in")]))
        elif args.action == "remove":
            if not accounts.remove_user(args.name):
                raise AccountError(f"no user {args.name!r}")
            print(f"removed {args.name}, with their sessions and tokens")
        elif args.action == "role":
            accounts.set_role(args.name, args.role)
            print(f"{args.name} is now {args.role}")
        elif args.action == "passwd":
            accounts.set_password(args.name, _password(args.name, args.password_stdin))
            print(f"new password set for {args.name}; their sessions were ended")
        elif args.action == "token":
            print(accounts.create_token(args.name, args.label))
            print(f"(an API token for {args.name}: it is shown only this once)", file=sys.stderr)
        elif args.action == "revoke":
            print(f"revoked {accounts.revoke_tokens(args.name)} token(s) of {args.name}")
    except (AccountError, ValueError) as e:
        print(f"thumper users {args.action}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        store.close()
    return 0
