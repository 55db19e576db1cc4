"""snnc: a compiler from spiking neural networks (ONNX / NIR) to neuromorphic and MCU targets."""

__version__ = "0.1.0"
