"""``aws.deactivate_access_key`` and ``aws.delete_access_key`` with boto3 IAM.

The access key id is public (it is in the case as the credential's ``public_id``); the operator's
own AWS credentials (boto3's usual chain) do the call. The endpoint is overridable for testing
and for partitions. The key's user is looked up with GetAccessKeyLastUsed when not given.
"""

from __future__ import annotations

from typing import Any

from runbooks.actions.base import Action, ActionContext, Args
from runbooks.errors import ActionError
from runbooks.outcome import containment


class KeyArgs(Args):
    access_key_id: str
    user_name: str | None = None
    endpoint_url: str | None = None
    region: str = "us-east-1"


def _iam(args: KeyArgs, ctx: ActionContext) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=ctx.timeout, read_timeout=ctx.timeout, retries={"max_attempts": 2}
    )
    return boto3.client(
        "iam", region_name=args.region, endpoint_url=args.endpoint_url, config=config
    )


def _call(what: str, func: Any, **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return func(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ActionError(f"aws {what}: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise ActionError(f"aws {what}: {exc}") from None


def _user_of(iam: Any, args: KeyArgs) -> str:
    if args.user_name:
        return args.user_name
    found = _call(
        "GetAccessKeyLastUsed", iam.get_access_key_last_used, AccessKeyId=args.access_key_id
    )
    user = found.get("UserName")
    if not user:
        raise ActionError(f"aws: cannot tell which user owns {args.access_key_id}; give user_name")
    return str(user)


def _status(iam: Any, user: str, key_id: str) -> str | None:
    listing = _call("ListAccessKeys", iam.list_access_keys, UserName=user)
    for meta in listing.get("AccessKeyMetadata", []):
        if meta.get("AccessKeyId") == key_id:
            return str(meta.get("Status"))
    return None


class DeactivateAccessKey(Action[KeyArgs]):
    """UpdateAccessKey Status=Inactive, then read the status back."""

    name = "aws.deactivate_access_key"
    args = KeyArgs

    def plan(self, args: KeyArgs, ctx: ActionContext) -> str:
        where = f" at {args.endpoint_url}" if args.endpoint_url else ""
        return f"IAM UpdateAccessKey {args.access_key_id} Status=Inactive{where}"

    def run(self, args: KeyArgs, ctx: ActionContext) -> dict[str, Any]:
        iam = _iam(args, ctx)
        user = _user_of(iam, args)
        _call(
            "UpdateAccessKey",
            iam.update_access_key,
            UserName=user,
            AccessKeyId=args.access_key_id,
            Status="Inactive",
        )
        status = _status(iam, user, args.access_key_id)
        if status != "Inactive":
            raise ActionError(f"aws: {args.access_key_id} is {status} after UpdateAccessKey")
        return {
            "access_key_id": args.access_key_id,
            "user": user,
            "status": status,
            **containment(
                "revoked", True, f"revoked at AWS IAM ({args.access_key_id} is Inactive)"
            ),
        }


class DeleteAccessKey(Action[KeyArgs]):
    """DeleteAccessKey (irreversible), then check the key is gone."""

    name = "aws.delete_access_key"
    args = KeyArgs

    def plan(self, args: KeyArgs, ctx: ActionContext) -> str:
        where = f" at {args.endpoint_url}" if args.endpoint_url else ""
        return f"IAM DeleteAccessKey {args.access_key_id}{where} (cannot be undone)"

    def run(self, args: KeyArgs, ctx: ActionContext) -> dict[str, Any]:
        iam = _iam(args, ctx)
        user = _user_of(iam, args)
        _call(
            "DeleteAccessKey", iam.delete_access_key, UserName=user, AccessKeyId=args.access_key_id
        )
        if _status(iam, user, args.access_key_id) is not None:
            raise ActionError(f"aws: {args.access_key_id} still listed after DeleteAccessKey")
        return {"access_key_id": args.access_key_id, "user": user, "deleted": True}


DEACTIVATE = DeactivateAccessKey()
DELETE = DeleteAccessKey()
