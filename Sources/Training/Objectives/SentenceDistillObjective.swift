import Layers
import Tensors

/// The losses of sentence-embedding distillation: on the pooled, L2-normalized sentence vectors (MSE and cosine,
/// as sentence-transformers' `MSELoss` distillation), on hidden states through a layer map (TinyBERT / MiniLM:
/// the output of student layer s imitates the output of teacher layer t), and on attention distributions through a
/// second layer map (MiniLM / TinyBERT: ``AttentionKL`` between student layer s's heads and teacher layer t's).
public struct SentenceDistillLoss: Sendable {
    public var mse: Float
    public var cosine: Float
    /// (student layer, teacher layer), 0-based encoder layers; compared after each layer.
    public var layerMap: [(student: Int, teacher: Int)]
    public var hiddenWeight: Float
    /// (student layer, teacher layer) whose attention probabilities are compared head by head.
    public var attentionMap: [(student: Int, teacher: Int)]
    public var attentionWeight: Float

    public init(
        mse: Float = 1, cosine: Float = 1, layerMap: [(student: Int, teacher: Int)] = [], hiddenWeight: Float = 0,
        attentionMap: [(student: Int, teacher: Int)] = [], attentionWeight: Float = 0
    ) {
        self.mse = mse
        self.cosine = cosine
        self.layerMap = layerMap
        self.hiddenWeight = hiddenWeight
        self.attentionMap = attentionMap
        self.attentionWeight = attentionWeight
    }

    var usesHidden: Bool { hiddenWeight > 0 && !layerMap.isEmpty }
    var usesAttention: Bool { attentionWeight > 0 && !attentionMap.isEmpty }
}

/// Distils a BERT sentence encoder into a student BERT (fewer layers, same or smaller width) on unlabelled sentences.
/// Teacher targets are computed once and reused every epoch when they fit in ``cacheBudgetBytes`` (sentence
/// embeddings always do; hidden states of the mapped layers for up to ~6,700 sentences of 17 tokens). When the
/// hidden states do not fit, one teacher inference forward per batch gives both the hidden and the embedding targets
/// (computing the embeddings up front as well would run the teacher twice per sentence). The attention loss needs the
/// teacher's attention probabilities, which are not cached (Σ heads·l² per layer and sentence): with it, the teacher
/// runs a training forward (which keeps them) on every batch.
/// Validation: the embedding loss on held-out sentences, metric = mean cosine to the teacher.
public final class SentenceDistillObjective: TrainingObjective {
    public let student: BertModel
    public var module: Module { student }
    public var trainingCount: Int { sequences.count }
    let teacher: BertModel
    let sequences: [[Int32]]
    let validationSequences: [[Int32]]
    let loss: SentenceDistillLoss
    let normalize: Bool
    /// (N, H) teacher sentence embeddings of the training sentences (nil: computed per batch with the hidden
    /// targets), and of the validation ones.
    let teacherEmbeddings: Tensor?
    let teacherValidation: Tensor
    /// Per training sentence, the teacher's hidden states of the mapped layers, when cached.
    var hiddenCache: [[Tensor]]?
    /// Parameter path prefixes left out of training (the pooler is never trained: sentence vectors do not use it).
    let frozen: [String]
    /// Default bytes of cached teacher hidden states.
    public static let cacheBudgetBytes = 512 << 20

    /// Throws a one-line error naming `loss.hidden.layer_map` when a layer is out of range or the widths differ.
    /// `cacheBudgetBytes` caps the cached hidden states (0: the teacher runs per batch).
    public init(
        student: BertModel, teacher: BertModel, sequences: [[Int32]], validationSequences: [[Int32]], loss: SentenceDistillLoss,
        normalize: Bool = true, frozen: [String] = [], cacheBudgetBytes: Int = SentenceDistillObjective.cacheBudgetBytes,
        executor: Executor
    ) throws {
        guard !validationSequences.isEmpty else { throw TrainingError.badInput("the validation split is empty") }
        try Self.checkRange(of: loss.layerMap, field: "loss.hidden.layer_map", student: student, teacher: teacher)
        try Self.checkRange(of: loss.attentionMap, field: "loss.attention.layer_map", student: student, teacher: teacher)
        for (s, t) in loss.attentionMap {
            let (sh, th) = (student.layers[s].shape.heads, teacher.layers[t].shape.heads)
            guard sh == th else {
                throw TrainingError.badInput(
                    "loss.attention.layer_map needs equal head counts: student layer \(s) has \(sh) heads, teacher layer \(t) has \(th)")
            }
        }
        if !loss.layerMap.isEmpty, student.config.hiddenSize != teacher.config.hiddenSize {
            throw TrainingError.badInput(
                "loss.hidden.layer_map needs equal widths: the student's hidden size is \(student.config.hiddenSize), the teacher's \(teacher.config.hiddenSize)")
        }
        if student.config.hiddenSize != teacher.config.hiddenSize, loss.mse > 0 || loss.cosine > 0 {
            throw TrainingError.badInput(
                "loss.embedding needs equal widths: the student's sentence vectors have \(student.config.hiddenSize) dimensions, the teacher's \(teacher.config.hiddenSize)")
        }
        self.student = student
        self.teacher = teacher
        self.sequences = sequences
        self.validationSequences = validationSequences
        self.loss = loss
        self.normalize = normalize
        self.frozen = ["pooler."] + frozen
        teacherValidation = try Self.embeddings(teacher, validationSequences, normalize: normalize, executor: executor)
        let tokens = sequences.reduce(0) { $0 + $1.count }
        let hiddenLoss = loss.usesHidden
        if loss.usesAttention {
            teacherEmbeddings = nil  // teacher per batch (its attention probabilities are not cached)
        } else if hiddenLoss, tokens * teacher.config.hiddenSize * 4 * loss.layerMap.count <= cacheBudgetBytes {
            // Batches of 64 (one sentence per forward was ~4× slower); states are packed (tokens, H), so each
            // sentence's rows are cut out at its offset. The same forward gives the embedding targets.
            var cache: [[Tensor]] = []
            var pooled: [Tensor] = []
            cache.reserveCapacity(sequences.count)
            for start in stride(from: 0, to: sequences.count, by: 64) {
                let batch = Self.packed(sequences[start..<min(sequences.count, start + 64)])
                let out = try teacher.forward(ids: batch.ids, lengths: batch.lengths, collectHiddenStates: true, on: executor)
                pooled.append(teacher.pool(out.hidden, lengths: batch.lengths, pooling: SentencePooling(mode: .mean, normalize: normalize)))
                var offset = 0
                for length in batch.lengths {
                    cache.append(loss.layerMap.map { out.states[$0.teacher + 1].rows(offset..<(offset + length)) })
                    offset += length
                }
            }
            hiddenCache = cache
            teacherEmbeddings = try Tensor.concatenateRows(pooled)
        } else if hiddenLoss {
            teacherEmbeddings = nil
        } else {
            teacherEmbeddings = try Self.embeddings(teacher, sequences, normalize: normalize, executor: executor)
        }
    }

    /// Throws a one-line error naming `field` when a (student, teacher) pair of `map` is outside either model's layers.
    static func checkRange(
        of map: [(student: Int, teacher: Int)], field: String, student: BertModel, teacher: BertModel
    ) throws {
        for (s, t) in map {
            guard s >= 0, s < student.layers.count else {
                throw TrainingError.badInput(
                    "\(field): student layer \(s) is out of range (the student has \(student.layers.count) layers, 0...\(student.layers.count - 1))")
            }
            guard t >= 0, t < teacher.layers.count else {
                throw TrainingError.badInput(
                    "\(field): teacher layer \(t) is out of range (the teacher has \(teacher.layers.count) layers, 0...\(teacher.layers.count - 1))")
            }
        }
    }

    /// Mean-pooled (and L2-normalized) sentence vectors (N, H), in batches of 64.
    public static func embeddings(_ model: BertModel, _ sequences: [[Int32]], normalize: Bool, executor: Executor) throws -> Tensor {
        var parts: [Tensor] = []
        for start in stride(from: 0, to: sequences.count, by: 64) {
            let batch = packed(sequences[start..<min(sequences.count, start + 64)])
            let hidden = try model.forward(ids: batch.ids, lengths: batch.lengths, on: executor).hidden
            parts.append(model.pool(hidden, lengths: batch.lengths, pooling: SentencePooling(mode: .mean, normalize: normalize)))
        }
        return try Tensor.concatenateRows(parts)
    }

    static func packed<C: Collection>(_ seqs: C) -> PackedSequences where C.Element == [Int32] {
        PackedSequences(ids: seqs.flatMap { $0 }, lengths: seqs.map(\.count))
    }

    public func trains(_ path: String) -> Bool { !frozen.contains { path.hasPrefix($0) } }

    public func step(indices: [Int], gradients: Gradients, context: TrainingContext) throws -> Double {
        let batch = Self.packed(indices.map { sequences[$0] })
        let (hidden, tape) = try student.trainingForward(batch, context: context)
        let pooled = MeanPooling.forward(hidden, lengths: batch.lengths)
        let (embedding, norms) = normalize ? L2Normalize.forward(pooled) : (pooled, [])
        // Teacher targets: cached, or one inference forward of this batch (embeddings and hidden states together).
        var hiddenTargets: [Tensor] = []
        var attentionTargets: [Tensor] = []
        let target: Tensor
        if loss.usesAttention {
            // A training forward keeps every layer's attention probabilities (the inference forward's fused kernel
            // does not); its last state pooled is the embedding target.
            let (last, teacherTape) = try teacher.trainingForward(batch, context: context)
            target = teacher.pool(last, lengths: batch.lengths, pooling: SentencePooling(mode: .mean, normalize: normalize))
            hiddenTargets = loss.layerMap.map { teacherTape.states[$0.teacher + 1] }
            attentionTargets = loss.attentionMap.map { teacherTape.attentionProbabilities(layer: $0.teacher) }
        } else if let teacherEmbeddings {
            target = ClassifierObjective.gather(teacherEmbeddings, indices)
            if let hiddenCache {
                hiddenTargets = try loss.layerMap.indices.map { k in try Tensor.concatenateRows(indices.map { hiddenCache[$0][k] }) }
            }
        } else {
            let out = try teacher.forward(ids: batch.ids, lengths: batch.lengths, collectHiddenStates: true, on: context.executor)
            target = teacher.pool(out.hidden, lengths: batch.lengths, pooling: SentencePooling(mode: .mean, normalize: normalize))
            hiddenTargets = loss.layerMap.map { out.states[$0.teacher + 1] }
        }
        let (total, dEmbedding) = try embeddingLoss(embedding, target)
        let dPooled = normalize ? L2Normalize.backward(dEmbedding, y: embedding, norms: norms) : dEmbedding
        let dHidden = MeanPooling.backward(dPooled, lengths: batch.lengths)
        var value = total
        var dStates: [Int: Tensor] = [:]
        if loss.usesHidden {
            for (k, pair) in loss.layerMap.enumerated() {
                let r = try MeanSquaredError().evaluate(tape.states[pair.student + 1], target: hiddenTargets[k])
                value += Double(loss.hiddenWeight) * r.loss
                var g = r.gradient
                let w = loss.hiddenWeight
                g.withUnsafeMutableFloats { gp in for i in 0..<gp.count { gp[i] *= w } }
                if let existing = dStates[pair.student + 1] {
                    g.withUnsafeMutableFloats { gp in existing.withUnsafeFloats { ep in for i in 0..<gp.count { gp[i] += ep[i] } } }
                }
                dStates[pair.student + 1] = g
            }
        }
        var dScores: [Int: Tensor] = [:]
        if loss.usesAttention {
            for (k, pair) in loss.attentionMap.enumerated() {
                let r = try AttentionKL().evaluate(
                    student: tape.attentionProbabilities(layer: pair.student), teacher: attentionTargets[k], lengths: batch.lengths,
                    heads: student.layers[pair.student].shape.heads)
                value += Double(loss.attentionWeight) * r.loss
                var g = r.gradient
                let w = loss.attentionWeight
                g.withUnsafeMutableFloats { gp in
                    for i in 0..<gp.count { gp[i] *= w }
                    dScores[pair.student]?.withUnsafeFloats { ep in for i in 0..<gp.count { gp[i] += ep[i] } }
                }
                dScores[pair.student] = g
            }
        }
        try student.backward(dHidden, dStates: dStates, dScores: dScores, tape: tape, gradients: gradients, context: context)
        return value
    }

    /// mse·MSE + cosine·(1 − cos) on sentence vectors, and its gradient.
    func embeddingLoss(_ embedding: Tensor, _ target: Tensor) throws -> (Double, Tensor) {
        var total = 0.0
        var grad = Tensor(zeros: embedding.shape)
        var parts: [(Float, LossResult)] = []
        if loss.mse > 0 { parts.append((loss.mse, try MeanSquaredError().evaluate(embedding, target: target))) }
        if loss.cosine > 0 { parts.append((loss.cosine, try CosineEmbeddingLoss().evaluate(embedding, target: target))) }
        for (weight, result) in parts {
            total += Double(weight) * result.loss
            grad.withUnsafeMutableFloats { gp in result.gradient.withUnsafeFloats { rp in for i in 0..<gp.count { gp[i] += weight * rp[i] } } }
        }
        return (total, grad)
    }

    public func validate(executor: Executor) throws -> ValidationResult {
        let out = try Self.embeddings(student, validationSequences, normalize: normalize, executor: executor)
        let (value, _) = try embeddingLoss(out, teacherValidation)
        let cos = try CosineEmbeddingLoss().evaluate(out, target: teacherValidation).loss
        return ValidationResult(loss: value, metric: 1 - cos)
    }
}
