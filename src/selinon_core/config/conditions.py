"""Condition compilation: a condition tree from the configuration becomes a tree of closures.

A condition (:data:`selinon_core.config.spec.Condition`) is compiled once, when the System is built,
into a :class:`CompiledCondition`.  Compilation resolves every leaf's predicate, checks its
parameters against the leaf's ``args`` and decides which node's result feeds ``message``.
Evaluation then only calls closures: nothing is generated as source and nothing is ``eval``-ed.

Predicate parameters are matched by name, as in Selinon:

* ``message`` receives the result of a node, read through :meth:`ConditionContext.message`:
  the leaf's ``node`` (a name, or a path through sub-flows such as ``flow2/Task3``), or the
  single source of the edge (``default_node``) when the leaf names none;
* ``node_args`` receives the flow arguments (:attr:`ConditionContext.node_args`);
* ``http_probe`` receives the runtime's HTTP port (an optional ``http_probe`` attribute of the
  context; ``None`` when the runtime offers none), used by ``httpStatus``;
* every other parameter comes from the leaf's ``args``; parameters without a default must be
  given, unknown ones are rejected (unless the predicate takes ``**kwargs``).

``and``/``or`` evaluate their children left to right and stop at the first child that decides
the outcome; ``not`` negates its child.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from selinon_core.config.spec import AllOf, AnyOf, Condition, Not, Predicate
from selinon_core.errors import (
    Problem,
    ResultMissing,
    SelinonError,
    SpecError,
    TransientBackendError,
    describe_error,
)

__all__ = [
    "INJECTED_PARAMETERS",
    "CompiledCondition",
    "ConditionContext",
    "ConditionError",
    "PredicateParams",
    "compile_condition",
    "predicate_parameters",
    "render_condition",
]

INJECTED_PARAMETERS = frozenset({"message", "node_args", "http_probe"})
"""Parameter names filled by the engine rather than by a leaf's ``args``.

``http_probe`` receives the HTTP port of the runtime (:attr:`ConditionContext.http_probe`):
the one way a predicate may reach the network (``httpStatus``) while the core does no I/O."""

_PASSTHROUGH: tuple[type[BaseException], ...] = (TransientBackendError, ResultMissing)

Evaluator = Callable[["ConditionContext"], bool]


class ConditionContext(Protocol):
    """What a condition reads while it is evaluated (one edge combination, one flow run)."""

    @property
    def node_args(self) -> Any:
        """The arguments of the flow."""
        ...

    def message(self, node: str) -> Any:
        """The result of ``node``: a node name, or a path through sub-flows (``flow2/Task3``).

        Raises:
            ResultMissing: nothing is stored for that node.
            TransientBackendError: the storage cannot be reached now.
        """
        ...


def _http_probe(ctx: ConditionContext) -> Any:
    """The HTTP port a context offers (an optional ``http_probe`` attribute), or ``None``."""
    return getattr(ctx, "http_probe", None)


class ConditionError(SelinonError):
    """A predicate raised while a condition was evaluated.

    Attributes:
        predicate: the name of the predicate that raised.
        cause: the exception it raised (also chained as ``__cause__``).
        condition: the rendered text of the leaf that failed, e.g. ``fieldEqual(...)``.
    """

    def __init__(self, predicate: str, cause: BaseException, condition: str) -> None:
        self.predicate = predicate
        self.cause = cause
        self.condition = condition
        super().__init__(
            f"predicate {predicate!r} raised {describe_error(cause)} (while evaluating {condition})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Keep the exception picklable (the shell may ship it across processes)."""
        return (type(self), (self.predicate, self.cause, self.condition))


@dataclass(frozen=True, slots=True)
class PredicateParams:
    """How a predicate is called, derived from its signature.

    Attributes:
        uses_message: it takes ``message`` (the result of a node).
        uses_node_args: it takes ``node_args`` (the flow arguments).
        required: parameters that a leaf's ``args`` must give.
        optional: parameters that a leaf's ``args`` may give (they have defaults).
        any_keyword: it takes ``**kwargs``, so ``args`` may hold names not listed above.
        uses_http_probe: it takes ``http_probe`` (the runtime's HTTP port), so it makes a
            network call from the dispatcher.
    """

    uses_message: bool
    uses_node_args: bool
    required: frozenset[str]
    optional: frozenset[str]
    any_keyword: bool = False
    uses_http_probe: bool = False

    def check_args(self, names: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
        """The ``(missing, unexpected)`` parameter names for a leaf giving ``args`` ``names``."""
        missing = self.required - names
        unexpected = names & INJECTED_PARAMETERS
        if not self.any_keyword:
            unexpected |= names - self.required - self.optional
        return missing, unexpected


_KEYWORD_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def predicate_parameters(fn: Callable[..., Any]) -> PredicateParams:
    """Inspect ``fn``'s signature to learn which parameters are injected and which are args.

    Raises:
        SpecError: the predicate is marked unsupported (an ``unsupported_reason`` string
            attribute), its signature cannot be inspected, or it has a positional-only
            parameter without a default (predicates are called with keywords).
    """
    name = getattr(fn, "__name__", repr(fn))
    unsupported = getattr(fn, "unsupported_reason", None)
    if isinstance(unsupported, str):
        raise SpecError(f"predicate {name!r} is not supported: {unsupported}")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"cannot inspect the parameters of predicate {name!r}: {exc}") from exc
    required: set[str] = set()
    optional: set[str] = set()
    any_keyword = False
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            any_keyword = True
        elif param.kind in _KEYWORD_KINDS:
            target = required if param.default is inspect.Parameter.empty else optional
            target.add(param.name)
        elif (
            param.kind is inspect.Parameter.POSITIONAL_ONLY
            and param.default is inspect.Parameter.empty
        ):
            raise SpecError(
                f"predicate {name!r} has a positional-only parameter {param.name!r}; "
                "predicates are called with keyword arguments"
            )
    names = required | optional
    return PredicateParams(
        uses_message="message" in names,
        uses_node_args="node_args" in names,
        required=frozenset(required - INJECTED_PARAMETERS),
        optional=frozenset(optional - INJECTED_PARAMETERS),
        any_keyword=any_keyword,
        uses_http_probe="http_probe" in names,
    )


@dataclass(frozen=True)
class CompiledCondition:
    """A condition ready to evaluate.

    Attributes:
        text: human-readable form, e.g. ``fieldEqual(message('Task1'), key='ok', value=True)``.
        nodes: the node names or paths whose results it reads (empty if it reads none).
    """

    text: str
    nodes: frozenset[str]
    _evaluator: Evaluator = field(repr=False, compare=False)

    def evaluate(self, ctx: ConditionContext) -> bool:
        """Evaluate the condition against ``ctx``.

        Raises:
            ConditionError: a predicate raised (any exception but the two below).
            TransientBackendError: reading a result failed for now (propagated unchanged).
            ResultMissing: a result the condition reads is not stored (propagated unchanged).
        """
        return self._evaluator(ctx)


def render_condition(cond: Condition) -> str:
    """Render a condition as text, e.g. ``and(isDict(message('T1')), not(alwaysFalse()))``.

    Only what the configuration says is shown: ``message(...)`` appears for a leaf that names
    its ``node``.  :attr:`CompiledCondition.text` also shows injected parameters and the node
    chosen by default.
    """
    if isinstance(cond, AllOf):
        return "and(" + ", ".join(render_condition(c) for c in cond.and_) + ")"
    if isinstance(cond, AnyOf):
        return "or(" + ", ".join(render_condition(c) for c in cond.or_) + ")"
    if isinstance(cond, Not):
        return f"not({render_condition(cond.not_)})"
    return _render_leaf(cond, cond.node, uses_node_args=False)


def _render_leaf(leaf: Predicate, node: str | None, *, uses_node_args: bool) -> str:
    parts: list[str] = []
    if node is not None:
        parts.append(f"message({node!r})")
    if uses_node_args:
        parts.append("node_args")
    parts.extend(f"{key}={value!r}" for key, value in leaf.args.items())
    return f"{leaf.name}({', '.join(parts)})"


def compile_condition(
    cond: Condition,
    lookup: Callable[[str], Callable[..., Any]],
    *,
    default_node: str | None,
) -> CompiledCondition:
    """Compile ``cond`` into closures over the predicates that ``lookup`` returns.

    Args:
        cond: the condition tree from the configuration.
        lookup: maps a predicate name to its callable (e.g. ``System.predicate``); it may
            raise ``SpecError`` (or any exception) for an unknown name.
        default_node: the node whose result a ``message`` predicate reads when its leaf
            names no ``node``: the single source of the edge, or ``None`` when there is no
            single source (starting edges, multi-source edges, failure conditions).

    Raises:
        SpecError: listing every problem found: unknown, unsupported or non-callable
            predicates, missing or unexpected ``args``, a ``message`` predicate with no node.
    """
    compiler = _Compiler(lookup, default_node)
    evaluator, text = compiler.compile(cond)
    if compiler.problems:
        raise SpecError(compiler.problems)
    return CompiledCondition(text=text, nodes=frozenset(compiler.nodes), _evaluator=evaluator)


# A stand-in evaluator for a leaf that failed to compile.  It is never called, because
# ``compile_condition`` raises when any problem was recorded.
_FAILED: Evaluator = bool


class _Compiler:
    """One compilation: collects problems and the nodes read, builds the closures."""

    def __init__(
        self, lookup: Callable[[str], Callable[..., Any]], default_node: str | None
    ) -> None:
        self.lookup = lookup
        self.default_node = default_node
        self.problems: list[Problem] = []
        self.nodes: set[str] = set()

    def compile(self, cond: Condition) -> tuple[Evaluator, str]:
        if isinstance(cond, AllOf):
            children, text = self._compile_all(cond.and_)
            return _all_of(children), f"and({text})"
        if isinstance(cond, AnyOf):
            children, text = self._compile_all(cond.or_)
            return _any_of(children), f"or({text})"
        if isinstance(cond, Not):
            child, text = self.compile(cond.not_)
            return _negation(child), f"not({text})"
        return self.compile_leaf(cond)

    def _compile_all(self, conds: tuple[Condition, ...]) -> tuple[tuple[Evaluator, ...], str]:
        pairs = [self.compile(c) for c in conds]
        return tuple(e for e, _ in pairs), ", ".join(t for _, t in pairs)

    def compile_leaf(self, leaf: Predicate) -> tuple[Evaluator, str]:
        fn = _resolve(leaf.name, self.lookup, self.problems)
        params = self._parameters(fn) if fn is not None else None
        if fn is None or params is None:
            return _FAILED, _render_leaf(leaf, leaf.node, uses_node_args=False)
        node = (leaf.node or self.default_node) if params.uses_message else None
        text = _render_leaf(leaf, node, uses_node_args=params.uses_node_args)
        leaf_problems = _leaf_problems(leaf, params, node)
        if leaf_problems:
            self.problems.extend(leaf_problems)
            return _FAILED, text
        if node is not None:
            self.nodes.add(node)
        evaluator = _leaf_evaluator(
            fn,
            leaf.name,
            args=dict(leaf.args),
            node=node,
            uses_node_args=params.uses_node_args,
            uses_http_probe=params.uses_http_probe,
            text=text,
        )
        return evaluator, text

    def _parameters(self, fn: Callable[..., Any]) -> PredicateParams | None:
        try:
            return predicate_parameters(fn)
        except SpecError as exc:
            self.problems.extend(exc.problems)
            return None


def _negation(child: Evaluator) -> Evaluator:
    def evaluate(ctx: ConditionContext) -> bool:
        return not child(ctx)

    return evaluate


def _all_of(children: tuple[Evaluator, ...]) -> Evaluator:
    def evaluate(ctx: ConditionContext) -> bool:
        return all(child(ctx) for child in children)

    return evaluate


def _any_of(children: tuple[Evaluator, ...]) -> Evaluator:
    def evaluate(ctx: ConditionContext) -> bool:
        return any(child(ctx) for child in children)

    return evaluate


def _resolve(
    name: str, lookup: Callable[[str], Callable[..., Any]], problems: list[Problem]
) -> Callable[..., Any] | None:
    try:
        fn = lookup(name)
    except SpecError as exc:
        problems.append(Problem(f"unknown predicate {name!r}: {exc}"))
        return None
    except Exception as exc:
        problems.append(Problem(f"unknown predicate {name!r}: {describe_error(exc)}"))
        return None
    if not callable(fn):
        problems.append(Problem(f"predicate {name!r} is not callable"))
        return None
    return fn


def _leaf_problems(leaf: Predicate, params: PredicateParams, node: str | None) -> list[Problem]:
    found: list[Problem] = []
    missing, unexpected = params.check_args(frozenset(leaf.args))
    if missing:
        found.append(
            Problem(
                f"predicate {leaf.name!r}: missing args {sorted(missing)}",
                hint=f"it takes {sorted(params.required | params.optional)}",
            )
        )
    if unexpected:
        found.append(
            Problem(
                f"predicate {leaf.name!r}: unexpected args {sorted(unexpected)}",
                hint=f"it takes {sorted(params.required | params.optional)}; "
                "'message' and 'node_args' are filled in by the engine",
            )
        )
    if params.uses_message and node is None:
        found.append(
            Problem(
                f"predicate {leaf.name!r} reads a node result but no 'node' is given",
                hint="name the node whose result it inspects with 'node:'; it may be left out "
                "only on an edge with a single source node",
            )
        )
    return found


def _leaf_evaluator(
    fn: Callable[..., Any],
    name: str,
    *,
    args: Mapping[str, Any],
    node: str | None,
    uses_node_args: bool,
    uses_http_probe: bool = False,
    text: str,
) -> Evaluator:
    def evaluate(ctx: ConditionContext) -> bool:
        kwargs = dict(args)
        if node is not None:
            kwargs["message"] = ctx.message(node)
        if uses_node_args:
            kwargs["node_args"] = ctx.node_args
        if uses_http_probe:
            kwargs["http_probe"] = _http_probe(ctx)
        try:
            return bool(fn(**kwargs))
        except _PASSTHROUGH:
            raise
        except Exception as exc:
            raise ConditionError(name, exc, text) from exc

    return evaluate
