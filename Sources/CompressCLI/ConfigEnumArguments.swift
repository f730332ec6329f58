import ArgumentParser
import Compression
import Layers

// Recipe choices as command-line values: same spellings as in YAML, and `--help` lists them.
extension QuantizationMethod: ExpressibleByArgument {}
extension Int8Linear.ActivationMode: ExpressibleByArgument {}
