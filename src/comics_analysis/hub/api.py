"""The Hub side of every push: token, repo id and offline checks before any network call, then one
``create_repo`` + ``upload_folder`` commit of exactly the staged files."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

_TRUE = {"1", "ON", "YES", "TRUE"}


def _token(token_env: str) -> str:
    token = (os.environ.get(token_env) or "").strip()
    if not token and token_env == "HF_TOKEN":
        from huggingface_hub import get_token

        token = get_token() or ""  # a token saved by `hf auth login`
    if not token:
        raise ValueError(
            f"no Hugging Face token: set the environment variable {token_env} to a write token "
            "(https://huggingface.co/settings/tokens)"
            + (" or log in with `hf auth login`" if token_env == "HF_TOKEN" else "")
        )
    return token


def warn_left_local(folder: Path, others: Sequence[str], what: str) -> None:
    """Log the files of ``folder`` that an upload of ``what`` (dataset, model) leaves out."""
    if others:
        log.warning(
            "%s: %d files are not part of the %s and stay local, e.g. %s",
            folder,
            len(others),
            what,
            others[0],
        )


def check_repo_id(repo_id: str) -> None:
    """A clear error for a repo id the Hub would refuse, before any staging or network call."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if repo_id.count("/") != 1:
        raise ValueError(f"repo id must be USER/NAME (or ORG/NAME), got {repo_id!r}")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise ValueError(f"invalid repo id {repo_id!r}: {exc}") from None


def hub_api(token_env: str):
    """An ``HfApi`` with a write token; refuses without a token or when HF_HUB_OFFLINE is set."""
    from huggingface_hub import HfApi, constants

    token = _token(token_env)
    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE:
        raise ValueError("HF_HUB_OFFLINE is set: pushing to the Hub needs the network; unset it to push")
    return HfApi(token=token)


def upload(
    folder: str | Path,
    repo_id: str,
    repo_type: str,
    files: Sequence[str],
    *,
    private: bool = False,
    token_env: str = "HF_TOKEN",
    commit_message: str,
    delete_patterns: list[str] | None = None,
) -> str:
    """Upload ``files`` (paths relative to ``folder``) to ``repo_id`` (created if needed;
    ``private`` applies when it is created) in one commit. Returns the commit URL."""
    api = hub_api(token_env)
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
    log.info("uploading %d files of %s to %s %s", len(files), folder, repo_type, repo_id)
    commit = api.upload_folder(
        repo_id=repo_id,
        repo_type=repo_type,
        folder_path=str(folder),
        allow_patterns=list(files),
        delete_patterns=delete_patterns,
        commit_message=commit_message,
    )
    return str(commit.commit_url)
