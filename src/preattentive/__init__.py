"""preattentive: do vision models see only the way the brain's pre-attentive feedforward sweep sees?"""

__version__ = "0.1.0"
