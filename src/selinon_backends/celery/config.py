"""Selinon's global configuration API on top of :class:`~.runtime.CeleryRuntime`.

A Selinon deployment's Celery app module does::

    from selinon import Config                  # after install_as_selinon(), or from
    app = Celery("myapp", broker=...)           # selinon_backends.celery directly
    Config.set_celery_app(app)
    Config.set_config_yaml("nodes.yaml", ["flows.yaml"])

and its clients call ``run_flow(flow_name, node_args)``.  :class:`Config` keeps Selinon's class
methods and builds one :class:`~.runtime.CeleryRuntime` once it has both the app and the
configuration (in either order); ``run_flow``/``run_flow_selective`` use that runtime.  New code
may create a ``CeleryRuntime`` itself instead: it holds no global state.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from selinon_backends.celery.runtime import CeleryRuntime, FlowResult
from selinon_core.config.system import System
from selinon_core.errors import SelinonError

__all__ = ["Config", "ConfigNotInitializedError", "run_flow", "run_flow_selective"]


class ConfigNotInitializedError(SelinonError):
    """A flow was started before ``Config`` had both a Celery app and a configuration."""


class Config:
    """Selinon's ``Config``: the process-wide Celery app, configuration and state store."""

    celery_app: ClassVar[Any] = None
    system: ClassVar[System | None] = None
    state_store: ClassVar[str | None] = None
    runtime: ClassVar[CeleryRuntime | None] = None
    trace_sinks: ClassVar[list[Callable[[Any], Any]]] = []
    initialized: ClassVar[bool] = False

    @classmethod
    def set_celery_app(cls, celery_app: Any) -> None:
        """Use Celery application ``celery_app`` (registers this engine's tasks on it)."""
        cls.celery_app = celery_app
        cls._build()

    @classmethod
    def set_config_yaml(
        cls,
        nodes_definition_file: str | os.PathLike[str],
        flow_definition_files: Sequence[str | os.PathLike[str]] | str,
        config_py: str | None = None,
        keep_config_py: bool = False,
    ) -> None:
        """Load the nodes file and flow files (Selinon's arguments).

        ``config_py`` and ``keep_config_py`` are accepted for compatibility and ignored:
        this engine generates no Python module from the YAML.

        Raises:
            SpecError: the files cannot be read or the configuration is invalid.
        """
        del config_py, keep_config_py
        from selinon_core.config.loader import load_system  # noqa: PLC0415

        if isinstance(flow_definition_files, str | os.PathLike):
            flow_definition_files = [flow_definition_files]
        cls.system = load_system(nodes_definition_file, list(flow_definition_files))
        cls._build()

    @classmethod
    def set_config_dict(
        cls, nodes_definition: Mapping[str, Any], flow_definitions: Sequence[Mapping[str, Any]]
    ) -> None:
        """Use an already-parsed configuration: the nodes mapping and flow-file mappings.

        Raises:
            SpecError: the configuration is invalid.
        """
        from ruamel.yaml import YAML  # noqa: PLC0415

        from selinon_core.config.loader import load_system_from_texts  # noqa: PLC0415

        cls.system = load_system_from_texts(
            _yaml_text(YAML, nodes_definition), [_yaml_text(YAML, f) for f in flow_definitions]
        )
        cls._build()

    @classmethod
    def set_system(cls, system: System) -> None:
        """Use an already loaded :class:`~selinon_core.config.system.System`."""
        cls.system = system
        cls._build()

    @classmethod
    def init(
        cls,
        celery_app: Any,
        nodes_definition_file: str | os.PathLike[str],
        flow_definition_files: Sequence[str | os.PathLike[str]] | str,
        config_py: str | None = None,
        keep_config_py: bool = False,
    ) -> None:
        """:meth:`set_celery_app` and :meth:`set_config_yaml` in one call (Selinon's ``init``)."""
        cls.celery_app = celery_app
        cls.set_config_yaml(nodes_definition_file, flow_definition_files, config_py, keep_config_py)

    @classmethod
    def set_state_store(cls, url: str) -> None:
        """Keep flow states in ``url`` (``redis://...`` or ``postgresql://...``).

        Without it: ``$SELINON_STATE_STORE``, else the Celery broker when it is Redis.
        """
        cls.state_store = url
        cls._build(rebuild=True)

    @classmethod
    def trace_by_func(cls, trace_func: Callable[[str, dict[str, Any]], object]) -> None:
        """Also call ``trace_func(event_name, details)`` for every trace event in workers."""
        from selinon_backends.tracing_sinks import FunctionSink  # noqa: PLC0415

        cls._add_sink(FunctionSink(trace_func))

    @classmethod
    def trace_by_logging(cls) -> None:
        """Also log every trace event (one logfmt line each; as ``global.trace: logging``)."""
        from selinon_backends.tracing_sinks import LoggingSink  # noqa: PLC0415

        cls._add_sink(LoggingSink())

    @classmethod
    def trace_by_json(cls) -> None:
        """Also print every trace event as one JSON line (as ``global.trace: json``)."""
        from selinon_backends.tracing_sinks import JsonLinesSink  # noqa: PLC0415

        cls._add_sink(JsonLinesSink())

    @classmethod
    def trace_by_sentry(cls, dsn: str | None = None) -> None:
        """Also report failures to Sentry (``dsn``, else ``$SENTRY_DSN``).

        Raises:
            ValueError: no DSN given and ``SENTRY_DSN`` is not set.
            MissingExtraError: sentry-sdk is not installed (the ``sentry`` extra).
        """
        from selinon_backends.tracing_sinks import SentrySink  # noqa: PLC0415

        dsn = dsn or os.environ.get("SENTRY_DSN", "")
        if not dsn:
            raise ValueError("Config.trace_by_sentry() needs a DSN: pass it or set SENTRY_DSN")
        cls._add_sink(SentrySink(dsn))

    @classmethod
    def _add_sink(cls, sink: Callable[[Any], Any]) -> None:
        cls.trace_sinks.append(sink)
        cls._build(rebuild=True)

    @classmethod
    def reset(cls) -> None:
        """Forget the app, configuration, state store and trace functions (tests)."""
        if cls.runtime is not None:
            cls.runtime.close()
        cls.celery_app = cls.system = cls.state_store = cls.runtime = None
        cls.trace_sinks = []
        cls.initialized = False

    @classmethod
    def get_runtime(cls) -> CeleryRuntime:
        """The runtime built from the app and configuration.

        Raises:
            ConfigNotInitializedError: the app or the configuration is missing.
        """
        if cls.runtime is None:
            missing = [
                what
                for what, value in (
                    ("Config.set_celery_app(app)", cls.celery_app),
                    ("Config.set_config_yaml(nodes, flows)", cls.system),
                )
                if value is None
            ]
            raise ConfigNotInitializedError(
                f"Selinon is not configured in this process: call {' and '.join(missing)} first "
                "(in the module that creates the Celery app, imported by workers and clients)"
            )
        return cls.runtime

    @classmethod
    def _build(cls, *, rebuild: bool = False) -> None:
        if cls.celery_app is None or cls.system is None:
            return
        current = cls.runtime
        if (
            current is not None
            and not rebuild
            and current.system is cls.system
            and current.app is cls.celery_app
        ):
            return
        if cls.runtime is not None:
            cls.runtime.close()
        cls.runtime = CeleryRuntime(
            cls.celery_app, cls.system, state_store=cls.state_store, tracer=cls._tracer()
        )
        cls.initialized = True

    @classmethod
    def _tracer(cls) -> Callable[[Any], Any] | None:
        """The ``trace_by_*`` sinks, after those of ``global.trace`` (``None``: only those)."""
        if not cls.trace_sinks or cls.system is None:
            return None
        from selinon_backends.tracing import Tracer, build_tracer  # noqa: PLC0415

        tracer = build_tracer(cls.system) if cls.system.spec.global_.trace else Tracer()
        for sink in cls.trace_sinks:
            tracer.add_sink(sink)
        return tracer


def run_flow(flow_name: str, node_args: Any = None) -> FlowResult:
    """Start flow ``flow_name`` with ``node_args``; the result's ``id`` is the flow id.

    Raises:
        ConfigNotInitializedError: ``Config`` has no app or configuration yet.
        UnknownFlowError: the configuration has no such flow.
    """
    return Config.get_runtime().run_flow(flow_name, node_args)


def run_flow_selective(
    flow_name: str,
    task_names: Sequence[str],
    node_args: Any = None,
    follow_subflows: bool = False,
    run_subsequent: bool = False,
) -> FlowResult:
    """Start only the parts of ``flow_name`` that lead to ``task_names``.

    Raises:
        ConfigNotInitializedError: ``Config`` has no app or configuration yet.
        UnknownFlowError: the configuration has no such flow.
        SelectiveNoPathError: a task is not reachable in the flow.
    """
    return Config.get_runtime().run_flow_selective(
        flow_name,
        task_names,
        node_args,
        follow_subflows=follow_subflows,
        run_subsequent=run_subsequent,
    )


def _yaml_text(yaml_class: Any, data: Mapping[str, Any]) -> str:
    import io  # noqa: PLC0415

    stream = io.StringIO()
    yaml = yaml_class(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(_plain(data), stream)
    return stream.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
