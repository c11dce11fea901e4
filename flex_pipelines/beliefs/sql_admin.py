"""Account and user administration, the audit log and annotations in SQL (both backends).

A mixin of :class:`~flex_pipelines.beliefs.sql_entities.SQLEntities`: the entity methods there
call :meth:`SQLAdmin.record_audit` for every change, in the same transaction, so no door (API,
CLI, pipeline) can change an account, user, asset or sensor without a record of who did it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from flex_pipelines.beliefs.audit import AuditEvent, current_actor
from flex_pipelines.beliefs.model import Account, Asset, Sensor, User
from flex_pipelines.errors import FlexPipelinesError, NotFoundError

_USER_COLS = "id, account_id, email, roles, active"
_AUDIT_COLS = (
    "id, event_datetime, event, active_user_id, active_user_name, affected_account_id, "
    "affected_user_id, affected_asset_id, affected_sensor_id, details"
)
#: an account's name: a rename is stored in account_names (DuckDB cannot update a row that
#: users and assets refer to by foreign key, even a column of it that is not the key)
_NAMED = "LEFT JOIN account_names n ON n.account_id = a.id"
_NAME = "COALESCE(n.name, a.name)"
#: fields whose values the audit log never shows (only that they changed)
_SECRET_FIELDS = {"password_hash"}


def _user(r: tuple) -> User:
    return User(int(r[0]), int(r[1]), r[2], tuple(x for x in r[3].split(",") if x), bool(r[4]))


def opt_int(v: Any) -> int | None:
    return None if v is None else int(v)


def utc(v: datetime) -> datetime:
    return v.astimezone(UTC)


def changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Field → ``{"old", "new"}`` for every field whose value differs (secrets hidden)."""
    out: dict[str, dict[str, Any]] = {}
    for k, v in new.items():
        if k in old and old[k] != v:
            out[k] = {"changed": True} if k in _SECRET_FIELDS else {"old": old[k], "new": v}
    return out


def describe(changed: dict[str, dict[str, Any]]) -> str:
    """``name: 'a' → 'b'; flex_model changed`` — short enough to read in a list."""
    parts = []
    for k, d in changed.items():
        if "old" not in d or isinstance(d["old"], dict | list) or isinstance(d["new"], dict | list):
            parts.append(f"{k} changed")
        else:
            parts.append(f"{k}: {d['old']!r} → {d['new']!r}")
    return "; ".join(parts)


class SQLAdmin:
    """Administration, audit and annotation methods.

    A mixin: it uses ``_run``, ``transaction``, ``get_account``, ``list_users``, ``list_assets``
    and ``delete_asset`` of :class:`~flex_pipelines.beliefs.sql_entities.SQLEntities`.
    """

    # --- the audit log -------------------------------------------------------------------------
    def record_audit(
        self,
        event: str,
        *,
        account_id: int | None = None,
        user_id: int | None = None,
        asset_id: int | None = None,
        sensor_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record a change under the current actor (:func:`~flex_pipelines.beliefs.audit.current_actor`)."""  # noqa: E501
        actor = current_actor()
        self._run(
            "INSERT INTO audit_log (event_datetime, event, active_user_id, active_user_name, "
            "affected_account_id, affected_user_id, affected_asset_id, affected_sensor_id, "
            "details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                datetime.now(UTC),
                event,
                actor.user_id,
                actor.name,
                account_id,
                user_id,
                asset_id,
                sensor_id,
                json.dumps(details or {}, default=str),
            ],
        )

    def audit_log(
        self,
        *,
        account_id: int | None = None,
        user_id: int | None = None,
        asset_id: int | None = None,
        sensor_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEvent]:
        """Recorded changes, newest first, filtered by what they affected."""
        where, params = [], []
        for col, v in (
            ("affected_account_id", account_id),
            ("affected_user_id", user_id),
            ("affected_asset_id", asset_id),
            ("affected_sensor_id", sensor_id),
        ):
            if v is not None:
                where.append(f"{col} = ?")
                params.append(int(v))
        sql = f"SELECT {_AUDIT_COLS} FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY id DESC LIMIT {int(limit)} OFFSET {int(offset)}"
        return [
            AuditEvent(
                id=int(r[0]),
                event_datetime=utc(r[1]),
                event=r[2],
                active_user_id=opt_int(r[3]),
                active_user_name=r[4],
                affected_account_id=opt_int(r[5]),
                affected_user_id=opt_int(r[6]),
                affected_asset_id=opt_int(r[7]),
                affected_sensor_id=opt_int(r[8]),
                details=json.loads(r[9] or "{}"),
            )
            for r in self._run(sql, params)
        ]

    def _audit_asset(self, verb: str, asset: Asset, details: dict[str, Any] | None = None) -> None:
        what = f"{verb} asset {asset.name!r} (id {asset.id})"
        if details:
            what += f": {describe(details)}"
        self.record_audit(what, account_id=asset.account_id, asset_id=asset.id, details=details)

    def _audit_sensor(
        self,
        verb: str,
        sensor: Sensor,
        account_id: int | None,
        details: dict[str, Any] | None = None,
    ) -> None:
        what = f"{verb} sensor {sensor.name!r} (id {sensor.id})"
        if sensor.asset_id is not None:
            what += f" of asset {sensor.asset_id}"
        if details:
            what += f": {describe(details)}"
        self.record_audit(
            what,
            account_id=account_id,
            asset_id=sensor.asset_id,
            sensor_id=sensor.id,
            details=details,
        )

    # --- accounts and users --------------------------------------------------------------------
    def _name_taken(self, name: str, but: int | None = None) -> None:
        rows = self._run(
            f"SELECT a.id, a.name FROM accounts a {_NAMED} WHERE (a.name = ? OR n.name = ?) "
            "AND a.id <> ?",
            [name, name, -1 if but is None else int(but)],
        )
        if rows:
            former = "" if rows[0][1] != name else f" (the first name of account {rows[0][0]})"
            raise FlexPipelinesError(f"account name {name!r} is already taken{former}")

    def add_account(self, name: str) -> Account:
        self._name_taken(name)
        with self.transaction():
            (row,) = self._run("INSERT INTO accounts (name) VALUES (?) RETURNING id, name", [name])
            self.record_audit(f"Created account {name!r} (id {row[0]})", account_id=int(row[0]))
        return Account(int(row[0]), row[1])

    def get_account(self, id_or_name: int | str) -> Account:
        col = "a.id" if isinstance(id_or_name, int) else _NAME
        rows = self._run(
            f"SELECT a.id, {_NAME} FROM accounts a {_NAMED} WHERE {col} = ?", [id_or_name]
        )
        if not rows:
            raise NotFoundError(f"unknown account {id_or_name!r}")
        return Account(int(rows[0][0]), rows[0][1])

    def list_accounts(self) -> list[Account]:
        return [
            Account(int(r[0]), r[1])
            for r in self._run(f"SELECT a.id, {_NAME} FROM accounts a {_NAMED} ORDER BY a.id")
        ]

    def add_user(
        self, account_id: int, email: str, password_hash: str = "", roles: Sequence[str] = ()
    ) -> User:
        self.get_account(account_id)
        if self._run("SELECT id FROM users WHERE email = ?", [email]):
            raise FlexPipelinesError(f"user email {email!r} is already taken")
        with self.transaction():
            (row,) = self._run(
                "INSERT INTO users (account_id, email, password_hash, roles) VALUES (?, ?, ?, ?) "
                "RETURNING id",
                [account_id, email, password_hash, ",".join(roles)],
            )
            self.record_audit(
                f"Created user {email} (id {row[0]}) in account {account_id}"
                + (f" with roles {','.join(roles)}" if roles else ""),
                account_id=account_id,
                user_id=int(row[0]),
            )
        return User(int(row[0]), account_id, email, tuple(roles))

    def list_users(self, account_id: int | None = None) -> list[User]:
        sql = "SELECT id, account_id, email, roles, active FROM users"
        rows = (
            self._run(sql + " WHERE account_id = ? ORDER BY id", [account_id])
            if account_id is not None
            else self._run(sql + " ORDER BY id")
        )
        return [
            User(int(r[0]), int(r[1]), r[2], tuple(x for x in r[3].split(",") if x), bool(r[4]))
            for r in rows
        ]

    def get_user_auth(self, email: str) -> tuple[User, str]:
        """A user with their password hash (for the API's login; the address in any case, an
        exact match first)."""
        rows = self._run(
            "SELECT id, account_id, email, roles, active, password_hash FROM users "
            "WHERE lower(email) = lower(?) ORDER BY email = ? DESC, id LIMIT 1",
            [email, email],
        )
        if not rows:
            raise NotFoundError(f"unknown user {email!r}")
        r = rows[0]
        user = User(int(r[0]), int(r[1]), r[2], tuple(x for x in r[3].split(",") if x), bool(r[4]))
        return user, r[5]

    # --- accounts ------------------------------------------------------------------------------
    def update_account(self, account_id: int, **fields: Any) -> Account:
        """Change an account's name."""
        bad = set(fields) - {"name"}
        if bad:
            raise FlexPipelinesError(f"cannot update account field(s) {sorted(bad)}")
        old = self.get_account(int(account_id))
        name = fields.get("name")
        if name is None or name == old.name:
            return old
        self._name_taken(name, old.id)
        with self.transaction():
            self._run("DELETE FROM account_names WHERE account_id = ?", [old.id])
            self._run("INSERT INTO account_names (account_id, name) VALUES (?, ?)", [old.id, name])
            details = changes({"name": old.name}, {"name": name})
            self.record_audit(
                f"Updated account {old.id}: {describe(details)}",
                account_id=old.id,
                details=details,
            )
        return self.get_account(old.id)

    def delete_account(self, account_id: int) -> dict[str, int]:
        """Delete an account with its users, assets (sensors, beliefs) and annotations.

        Returns
        -------
        dict[str, int]
            How many users and top-level assets went with it.
        """
        account = self.get_account(int(account_id))
        # two transactions: DuckDB checks a foreign key against the rows as they were at the
        # start of the transaction, so the account row goes once its users and assets are gone
        with self.transaction():
            users = self.list_users(account.id)
            for u in users:
                self.delete_user(u.id)
            tops = [a for a in self.list_assets(account_id=account.id) if a.parent_id is None]
            for a in tops:
                self.delete_asset(a.id)
            for a in self.list_assets(account_id=account.id):  # below another account's asset
                self.delete_asset(a.id)
            self._run("DELETE FROM annotations WHERE account_id = ?", [account.id])
        with self.transaction():
            self._run("DELETE FROM account_names WHERE account_id = ?", [account.id])
            self._run("DELETE FROM accounts WHERE id = ?", [account.id])
            self.record_audit(
                f"Deleted account {account.name!r} (id {account.id}) with {len(users)} user(s) "
                f"and {len(tops)} top-level asset(s)",
                account_id=account.id,
            )
        return {"users": len(users), "assets": len(tops)}

    # --- users ---------------------------------------------------------------------------------
    def get_user(self, id_or_email: int | str) -> User:
        """A user by id or e-mail address."""
        col = "id" if isinstance(id_or_email, int) else "email"
        rows = self._run(f"SELECT {_USER_COLS} FROM users WHERE {col} = ?", [id_or_email])
        if not rows:
            raise NotFoundError(f"unknown user {id_or_email!r}")
        return _user(rows[0])

    def update_user(self, user_id: int, **fields: Any) -> User:
        """Change a user's email, roles, active flag or password hash."""
        allowed = {"email", "roles", "active", "password_hash"}
        bad = set(fields) - allowed
        if bad:
            raise FlexPipelinesError(f"cannot update user field(s) {sorted(bad)}")
        old = self.get_user(int(user_id))
        new = dict(fields)
        if "roles" in new:
            new["roles"] = ",".join(new["roles"])
        if "active" in new:
            new["active"] = bool(new["active"])
        if (
            "email" in new
            and new["email"] != old.email
            and self._run("SELECT id FROM users WHERE email = ?", [new["email"]])
        ):
            raise FlexPipelinesError(f"user email {new['email']!r} is already taken")
        before = {"email": old.email, "roles": ",".join(old.roles), "active": old.active}
        before["password_hash"] = None  # never read back; any new hash is a change
        changed = changes(before, new)
        if not changed:
            return old
        with self.transaction():
            sets = ", ".join(f"{k} = ?" for k in new)
            self._run(f"UPDATE users SET {sets} WHERE id = ?", [*new.values(), old.id])
            self.record_audit(
                f"Updated user {old.email} (id {old.id}): {describe(changed)}",
                account_id=old.account_id,
                user_id=old.id,
                details=changed,
            )
        return self.get_user(old.id)

    def delete_user(self, user_id: int) -> None:
        """Delete a user (their data sources and beliefs stay)."""
        user = self.get_user(int(user_id))
        with self.transaction():
            self._run("DELETE FROM users WHERE id = ?", [user.id])
            self.record_audit(
                f"Deleted user {user.email} (id {user.id})",
                account_id=user.account_id,
                user_id=user.id,
            )
