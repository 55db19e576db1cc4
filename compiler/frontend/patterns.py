"""Raise exporter idioms in the imported Relax module to ``snn.*`` composite functions.

After ``from_onnx`` and ``FoldConstant`` a spiking step is a soup of ``multiply``/``add``/
``greater``/``astype``/``where``. :func:`raise_composites` groups each idiom into a private
composite function (attribute ``Composite = "snn.lif"`` etc.) with
``relax.transform.FuseOpsByPattern(..., bind_constants=True)``, so parameters live inside the
composite. Each pattern runs as its own ``FuseOpsByPattern`` pass with a check function that
hands the match to :class:`snnc.frontend.match.Recorder`, which is what the layer readers read
(:mod:`.layer_walk`); named sub-patterns mark the roles they read directly. The expanded
``snnc`` ops and snnTorch-style primitive neurons are the same idioms, hence one set of
patterns.

Patterns are tried in list order and a binding joins at most one composite, so larger idioms
come first: attention and multi-level spikes, CUBA before LIF (a CUBA membrane looks like a LIF
fed by a leaky current), reset-from-previous before same-step reset, neurons before synapses.
State inputs are matched as the exact ``main`` parameters that the state pairing names, so a
neuron is only raised around a membrane that really is carried between steps.

Composite output conventions (what the layer readers rely on):

=====================  ==================================================================
``snn.lif``            LIF/IF; charge ``h = [beta*]v + I [+ bias]``, spike test, reset
``snn.cubalif``        CUBA; ``u = c_u*u + I``, ``h = c_v*v + u [+ bias]``, spike, reset
``snn.multilevel``     IMLS levels from ``I`` (input-aware or constant threshold)
``snn.attention``      HD-RepSSA on ``(Q, K, V)``
``snn.dense``          ``matmul([alpha *] x, W) [+ b]``, or ``batch_norm`` of it (a tuple: field 0)
``snn.conv2d``         ``conv2d(x, W) [+ b]``, or ``batch_norm`` of it (a tuple: field 0)
``snn.pool2d``         ``max_pool2d`` / ``avg_pool2d`` / ``avg_pool2d * area`` (sum pool)
``snn.reshape``        ``reshape`` (ONNX Flatten and Reshape)
``snn.add``            elementwise ``add`` of two tensors
=====================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import tvm
from tvm import relax
from tvm.relax.dpl import (
    DFPattern,
    is_const,
    is_expr,
    is_op,
    wildcard,
)
from tvm.relax.expr_functor import PyExprMutator, mutator
from tvm.relax.transform import FusionPattern

from snnc.frontend.match import Recorder


@dataclass(frozen=True)
class Named:
    """A composite pattern and its named sub-patterns (the roles a reader takes as they
    matched, ``FusionPattern.annotation_patterns``)."""

    kind: str
    pattern: DFPattern
    roles: Mapping[str, DFPattern] = field(default_factory=dict)


def _op(name: str, *args: DFPattern) -> DFPattern:
    return is_op(f"relax.{name}")(*args)


def _either(name: str, a: DFPattern, b: DFPattern) -> DFPattern:
    """A commutative op with its operands in either order."""
    return _op(name, a, b) | _op(name, b, a)


def _optional(pattern_with: DFPattern, pattern_without: DFPattern) -> DFPattern:
    return pattern_with | pattern_without


def _fire(x: DFPattern) -> DFPattern:
    """Boolean spike test: ``x > theta`` or snnTorch's ``(x - theta) > 0`` (also ``>=``)."""
    alternatives = []
    for op in ("greater", "greater_equal"):
        alternatives.append(_op(op, x, is_const()))
        alternatives.append(_op(op, _op("subtract", x, is_const()), is_const()))
    pattern = alternatives[0]
    for alt in alternatives[1:]:
        pattern = pattern | alt
    return pattern


def _reset(h: DFPattern, fired: DFPattern) -> DFPattern:
    """The membrane after reset by ``fired``: ``Where`` to zero, ``h - s*h`` (zero, snnTorch)
    or ``h - s*theta`` (subtract; ``h - s`` when snnTorch drops a unit threshold)."""
    spikes = _op("astype", fired)
    return (_op("where", fired, is_const(), h)
            | _op("subtract", h, _either("multiply", spikes, h))
            | _op("subtract", h, _either("multiply", spikes, is_const()))
            | _op("subtract", h, spikes))


def _with_bias(charge: DFPattern) -> DFPattern:
    return _optional(_either("add", charge, is_const()), charge)


def _lif_charge(state: DFPattern) -> DFPattern:
    """``beta*v + I`` (LIF) or ``v + I`` (IF), ``I`` any tensor, then optionally ``+ b``
    (a constant bias) or ``+ J`` (a second current, as snnTorch's RLeaky adds its
    recurrent current after the feed-forward one)."""
    current = wildcard()
    leak = _either("multiply", state, is_const())
    charge = _either("add", leak, current) | _either("add", state, current)
    return _optional(_either("add", charge, wildcard()), charge)


def _cuba_charge(state_u: DFPattern, state_v: DFPattern) -> DFPattern:
    """``c_v*v + (c_u*u + I)``."""
    current = _either("add", _either("multiply", state_u, is_const()), wildcard())
    return _with_bias(_either("add", _either("multiply", state_v, is_const()), current))


def _neuron_patterns(name: str, charge: DFPattern, membrane: DFPattern) -> list[Named]:
    """Reset-from-previous (snnTorch), then same-step reset, then no reset; ``membrane`` is
    the state input that the next-step variant tests against the threshold."""
    previous = _reset(charge, _fire(membrane))
    same_fired = _fire(charge)
    return [
        Named(name, _op("astype", _fire(previous))),
        Named(name, _reset(charge, same_fired)),
        Named(name, _op("astype", same_fired)),
    ]


def _multilevel_patterns() -> list[Named]:
    """The threshold is ``alpha * mean(|I|)`` or ``mean(|I|)`` (alpha = 1, as exporters drop
    a multiply by one). Three guards of a zero threshold, largest first: the guarded threshold
    and a gated level (what snnc writes), the guarded threshold alone, none (a plain
    ``torch.clamp(torch.floor(x / theta + 0.5), 0, D)`` export)."""
    current = wildcard()
    mean = _op("mean", _op("abs", current))
    theta = _either("multiply", mean, is_const()) | mean
    active = _op("greater", theta, is_const())
    safe = _op("where", active, theta, is_const())

    def levels(scaled: DFPattern) -> DFPattern:
        low = _op("nn.relu", _op("floor", _either("add", scaled, is_const())))
        return _op("where", _op("greater", low, is_const()), is_const(), low)

    gated = _op("where", active, levels(_op("divide", current, safe)), is_const())
    guarded = levels(_op("divide", current, safe))
    bare = levels(_op("divide", current, theta))
    constant = levels(_op("divide", wildcard(), is_const()))
    return [Named("snn.multilevel", p) for p in (gated, guarded, bare, constant)]


def _attention_patterns() -> list[Named]:
    """Heads split by ``reshape`` + ``permute_dims`` (the key transposed in one permutation,
    or split like Q and V and then transposed, as PyTorch exports ``k.transpose(-2, -1)``),
    or a single head without any split: ``((Q @ K^T) * scale * M) @ V``."""
    def heads(x: DFPattern) -> DFPattern:
        return _op("permute_dims", _op("reshape", x, wildcard()))

    def masked(scores: DFPattern) -> DFPattern:
        scaled = _optional(_either("multiply", scores, is_const()), scores)
        return _either("multiply", scaled, is_const())

    key = heads(wildcard())
    scores = _op("matmul", heads(wildcard()), key | _op("permute_dims", key))
    mixed = _op("matmul", masked(scores), heads(wildcard()))
    split = _op("reshape", _op("permute_dims", mixed), wildcard())
    plain = _op("matmul", masked(_op("matmul", wildcard(), _op("permute_dims", wildcard()))),
                wildcard())
    return [Named("snn.attention", split), Named("snn.attention", plain)]


def _synapse_patterns() -> list[Named]:
    def biased(core: DFPattern) -> DFPattern:
        return _optional(_either("add", core, is_const()), core)

    def normed(core: DFPattern) -> DFPattern:
        # rooted at the batch_norm call (a tuple; main projects field 0): a TupleGetItem is
        # never tried as a root, and a smaller match at the earlier add would win otherwise
        return _op("nn.batch_norm", biased(core), *(is_const() for _ in range(4)))

    def dense() -> tuple[DFPattern, dict[str, DFPattern]]:
        data = wildcard()
        scaled = _either("multiply", data, is_const())  # Gemm's alpha scales the input
        weight = is_const()
        core = _op("matmul", scaled | data, weight)
        return core, {"core": core, "weight": weight}

    def conv() -> tuple[DFPattern, dict[str, DFPattern]]:
        weight = is_const()
        core = _op("nn.conv2d", wildcard(), weight)
        return core, {"core": core, "weight": weight}

    average = _op("nn.avg_pool2d", wildcard())
    maximum = _op("nn.max_pool2d", wildcard())
    pool = _op("multiply", average, is_const()) | average | maximum
    reshape = _op("reshape", wildcard(), wildcard())
    add = _op("add", wildcard(), wildcard())
    found: list[Named] = []
    for wrap in (normed, biased):
        for kind, (core, roles) in (("snn.conv2d", conv()), ("snn.dense", dense())):
            found.append(Named(kind, wrap(core), roles))
    return [*found, Named("snn.pool2d", pool, {"average": average, "max": maximum}),
            Named("snn.reshape", reshape, {"reshape": reshape}),
            Named("snn.add", add, {"add": add})]


def composite_patterns(states: Sequence[relax.Var]) -> list[Named]:
    """All patterns in priority order. ``states`` are the ``main`` parameters paired as state;
    a neuron's membrane (and CUBA current) must be one of them. Each role gets its own pattern
    object: a reused object must match the very same expression (that is how the membrane in
    the charge and in the reset-from-previous test are tied together)."""
    patterns = [*_attention_patterns(), *_multilevel_patterns()]
    if states:
        membrane, current = _any_of(states), _any_of(states)
        patterns += _neuron_patterns("snn.cubalif", _cuba_charge(current, membrane), membrane)
        membrane = _any_of(states)
        patterns += _neuron_patterns("snn.lif", _lif_charge(membrane), membrane)
    return patterns + _synapse_patterns()


def _any_of(values: Sequence[relax.Var]) -> DFPattern:
    pattern = is_expr(values[0])
    for value in values[1:]:
        pattern = pattern | is_expr(value)
    return pattern


@mutator
class _OwnComposites(PyExprMutator):
    """Give every composite call its own function, with literal shape arguments bound inside.

    ``FuseOpsByPattern`` shares one function between structurally equal groups (two LIF layers
    with equal parameters), but each call is a layer with its own name; a ``snn.site`` attribute
    (the call's ordinal) keeps the copies distinct. It also passes a ``ShapeExpr`` in as a
    parameter, and ``reshape`` can only be lowered with a literal target shape.
    """

    def __init__(self, mod: tvm.IRModule) -> None:
        super().__init__(mod)
        self.sites = 0

    def visit_call_(self, call: relax.Call) -> relax.Expr:
        call = self.visit_expr_post_order(call)
        if not isinstance(call.op, relax.GlobalVar):
            return call
        func = self.builder_.get()[call.op]
        shapes = {i: a for i, a in enumerate(call.args) if isinstance(a, relax.ShapeExpr)}
        if shapes:
            func = func.bind_params({func.params[i]: a for i, a in shapes.items()})
        func = func.with_attr("snn.site", self.sites)
        self.sites += 1
        callee = self.builder_.add_func(func, call.op.name_hint)  # the shared one dies in DCE
        kept = [a for i, a in enumerate(call.args) if i not in shapes]
        return relax.Call(callee, kept, call.attrs, call.ty_args)


def raise_composites(mod: tvm.IRModule, states: Sequence[relax.Var],
                     recorder: Recorder) -> tvm.IRModule:
    """Group every spiking idiom and synapse of ``main`` into ``snn.*`` composites, one
    ``FuseOpsByPattern`` pass per pattern in priority order (what one pass over all patterns
    does too), each match handed to ``recorder`` and its number stamped on its composite."""
    for named in composite_patterns(states):
        pattern = FusionPattern(named.kind, named.pattern, dict(named.roles),
                                lambda context, kind=named.kind: recorder.check(kind, context),
                                recorder.attrs)
        fused = relax.transform.FuseOpsByPattern([pattern], bind_constants=True,
                                                 annotate_codegen=False)(mod)
        recorder.passed(mod, fused)
        mod = fused
    binder = _OwnComposites(mod)
    binder.builder_.update_func(mod.get_global_var("main"), binder.visit_expr(mod["main"]))
    return relax.transform.DeadCodeElimination(["main"])(binder.builder_.get())
