"""NIR (Neuromorphic Intermediate Representation) in and out of snnc's layer view.

NIR describes a network as continuous-time nodes (``tau * dv/dt = (v_leak - v) + R*I``) joined
by instantaneous edges; snnc runs discrete steps. :class:`NirSemantics` fixes how one becomes
the other, following what the frameworks' NIR importers do (forward Euler with step ``dt``,
inputs held constant over a step; snnTorch's ``import_from_nir`` and Norse's ``from_nir``):

- ``LIF``: ``v <- (1 - dt/tau)*v + (dt/tau)*(R*I + v_leak)``; spike ``v > v_threshold``; reset
  to 0. The input gain ``g = R*dt/tau`` is folded into the membrane's unit (``v' = v/g``, as
  snnTorch's importer does), so the layer gets ``beta = 1 - dt/tau``, ``threshold = theta/g``,
  ``bias = v_leak/R`` and the weights stay untouched.
- ``IF``: ``v <- v + R*I`` (no ``dt``: Norse's ``IAFCell``, Sinabs' ``IAF`` and snnTorch all
  integrate a step's input whole); ``threshold = theta/R``.
- ``CubaLIF``: ``i <- (1 - dt/tau_syn)*i + (dt/tau_syn)*w_in*S``, then the membrane integrates
  the *updated* current like a LIF with input ``i``; both gains go into the state units.
- ``LI``/``I`` directly followed by a ``LIF``/``IF`` form a ``CubaLIF`` (the LI is the synaptic
  current); ``Threshold`` is a LIF with ``beta = 0``; ``Delay`` must be a whole number of steps.
- A cycle (a neuron feeding back to itself through weights) needs one step of delay; it sits on
  the input of the synapse in the loop, which becomes a ``recurrent`` Dense (snnTorch ``RLeaky``).

``docs/nir.md`` has the full table, the framework differences and the export rules. The
package is laid out as NIR itself is: :mod:`.read` and :mod:`.write` for whole graphs, one node
family per module under :mod:`.ir` (both directions), :mod:`.semantics` for the time reading.
"""

from snnc.frontend.nir.read import load_nir, nir_to_graph
from snnc.frontend.nir.semantics import DEFAULT_DT, PRESETS, NirSemantics, semantics_for
from snnc.frontend.nir.write import graph_to_nir, save_nir

__all__ = [
    "DEFAULT_DT",
    "PRESETS",
    "NirSemantics",
    "graph_to_nir",
    "load_nir",
    "nir_to_graph",
    "save_nir",
    "semantics_for",
]
