"""One NIR node family per module, each with both directions: how its nodes read into layers
(``read_*``, converters called by :mod:`snnc.frontend.nir.read` with a :class:`base.Builder`)
and how layers write back as its nodes (``write_*``, called by :mod:`snnc.frontend.nir.write`).

- :mod:`.linear`: ``Affine``, ``Linear``, ``Scale`` <-> Dense (and depthwise 1x1 Conv2d);
- :mod:`.conv`: ``Conv1d``, ``Conv2d`` <-> Conv2d (Conv1d between two reshapes);
- :mod:`.pooling`: ``SumPool2d``, ``AvgPool2d`` <-> Pool2d;
- :mod:`.reshape`: ``Flatten`` <-> Flatten and axis-merging Reshape;
- :mod:`.neurons`: ``LIF``, ``IF``, ``CubaLIF``, ``LI``/``I`` + spiking node, ``Threshold``
  <-> LIF and CubaLIF.
"""
