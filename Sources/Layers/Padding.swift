/// Output size and leading pad for one spatial axis, TensorFlow/Keras semantics.
/// `same`: out = ceil(in / stride), total pad = max((out-1)·stride + k - in, 0), split with the smaller half first.
/// `valid`: out = floor((in - k) / stride) + 1, no pad.
public func spatialOutput(input: Int, kernel: Int, stride: Int, same: Bool) -> (size: Int, padBefore: Int) {
    if same {
        let out = (input + stride - 1) / stride
        let total = max((out - 1) * stride + kernel - input, 0)
        return (out, total / 2)
    }
    return (input >= kernel ? (input - kernel) / stride + 1 : 0, 0)
}
