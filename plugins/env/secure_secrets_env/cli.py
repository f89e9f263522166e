"""``secure-secrets export-env``: secrets of any backend as the env backend's variables
(``VARIABLE=sse1:...`` ciphertext tokens), for ``docker run --env-file``, a Kubernetes
Secret, or a process configured with the env backend and the same key. A verb of this plugin,
registered through ``secrets_register_commands``."""

from __future__ import annotations

import click

from secrets_core.cli.state import get_state


@click.command("export-env")
@click.option("--prefix", default="", metavar="PREFIX", help="Only names starting with PREFIX.")
@click.option(
    "--variable-prefix",
    metavar="PREFIX",
    help="Variable prefix (default: [backends.env] prefix, else SECURE_SECRET_).",
)
@click.option(
    "--kubernetes",
    "k8s_name",
    metavar="NAME",
    help="Print a Kubernetes Secret manifest named NAME instead of lines.",
)
@click.option("--namespace", metavar="NAMESPACE", help="The manifest's namespace.")
def export_env_cmd(
    prefix: str, variable_prefix: str | None, k8s_name: str | None, namespace: str | None
) -> None:
    """Print every secret (or those under PREFIX) as env-backend variables: ciphertext only,
    readable where the env backend has this keyring's key. No --yes needed."""
    from secure_secrets_env.export import export_mapping, kubernetes_secret

    if namespace is not None and k8s_name is None:
        raise click.UsageError("--namespace needs --kubernetes NAME")
    manager = get_state().manager()
    names = manager.list_secrets(prefix)
    exported = export_mapping(manager, names, prefix=variable_prefix)
    if k8s_name is not None:
        click.echo(kubernetes_secret(exported, k8s_name, namespace=namespace), nl=False)
        return
    for variable, token in exported.items():
        click.echo(f"{variable}={token}")
