"""A synthetic city in the data contract's input formats, with ground truth.

Used by `hukou generate`, the demo, the tests and the benchmarks. Nothing here
is real personal data: names, ID numbers and addresses are drawn at random.
The city is drawn and written one community at a time, so memory stays about
the same whatever its scale.
"""

from synth.city import City, build_city
from synth.write import STAGES, write_city

__all__ = ["STAGES", "City", "build_city", "write_city"]
