import Tensors

/// The executor tests run forward passes on: two threads, so parallel regions are exercised.
let testExecutor = Executor(threads: 2)
