import Foundation

/// Everything `compress eval` measures; also the per-stage metrics of `compress run`.
/// JSON keys are snake_case (`throughput_per_s`, `latency_ms.p50`).
public struct EvalReport: Codable, Sendable {
    public var model: String
    public var format: String
    public var data: [String]
    public var items: Int
    public var parameters: Int
    /// Top-1 accuracy on labelled data.
    public var accuracy: Double?
    public var fidelity: FidelityReport?
    public var paraphrase: ParaphraseResult?
    /// Latency at batch 1 (p50/p99 of single-item calls).
    public var latency: Timing.Result?
    /// Throughput at the larger batch size(s).
    public var throughput: [Timing.Result]
    public var size: SizeReport
    public var peakRssBytes: Int
    public var threads: Int
    /// NaN or infinite values in the model's outputs (a warning is printed when there are any).
    public var nonFiniteOutputs: Int = 0

    /// Whether any output or measurement is NaN/infinite (written as null in JSON, with `non_finite: true`).
    public var hasNonFinite: Bool {
        nonFiniteOutputs > 0
            || [fidelity?.cosineMean, fidelity?.cosineMin, fidelity?.maxAbsDiff, paraphrase?.auc, accuracy]
                .contains { $0.map { !$0.isFinite } ?? false }
    }

    /// Storage bits per model weight: the safetensors bytes (scales, zero points and header included) over the
    /// number of weights the model represents; just above 32 for fp32.
    public var bitsPerWeight: Double { parameters == 0 ? 0 : Double(size.weightsBytes) * 8 / Double(parameters) }

    /// `throughput_per_s` of the largest batch measured (the headline number).
    public var throughputPerS: Double? { throughput.last?.throughputPerS ?? latency?.throughputPerS }
    /// `latency_ms` at batch 1.
    public var latencyMs: Timing.Percentiles? { latency?.latencyMs }

    enum CodingKeys: String, CodingKey {
        case model, format, data, items, parameters, accuracy, fidelity, paraphrase, latency, throughput, size
        case peakRssBytes = "peak_rss_bytes", threads, throughputPerS = "throughput_per_s", latencyMs = "latency_ms", bitsPerWeight =
            "bits_per_weight"
        case nonFiniteOutputs = "non_finite_outputs", nonFinite = "non_finite"
    }

    public init(
        model: String, format: String, data: [String], items: Int, parameters: Int, accuracy: Double?, fidelity: FidelityReport?,
        paraphrase: ParaphraseResult?, latency: Timing.Result?, throughput: [Timing.Result], size: SizeReport, peakRssBytes: Int,
        threads: Int
    ) {
        self.model = model; self.format = format; self.data = data; self.items = items; self.parameters = parameters
        self.accuracy = accuracy; self.fidelity = fidelity; self.paraphrase = paraphrase; self.latency = latency
        self.throughput = throughput; self.size = size; self.peakRssBytes = peakRssBytes; self.threads = threads
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        format = try c.decode(String.self, forKey: .format)
        data = try c.decode([String].self, forKey: .data)
        items = try c.decode(Int.self, forKey: .items)
        parameters = try c.decode(Int.self, forKey: .parameters)
        accuracy = try c.decodeIfPresent(Double.self, forKey: .accuracy)
        fidelity = try c.decodeIfPresent(FidelityReport.self, forKey: .fidelity)
        paraphrase = try c.decodeIfPresent(ParaphraseResult.self, forKey: .paraphrase)
        latency = try c.decodeIfPresent(Timing.Result.self, forKey: .latency)
        throughput = try c.decode([Timing.Result].self, forKey: .throughput)
        size = try c.decode(SizeReport.self, forKey: .size)
        peakRssBytes = try c.decode(Int.self, forKey: .peakRssBytes)
        threads = try c.decode(Int.self, forKey: .threads)
        nonFiniteOutputs = try c.decodeIfPresent(Int.self, forKey: .nonFiniteOutputs) ?? 0
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model); try c.encode(format, forKey: .format); try c.encode(data, forKey: .data)
        try c.encode(items, forKey: .items); try c.encode(parameters, forKey: .parameters)
        try c.encodeIfPresent(accuracy, forKey: .accuracy); try c.encodeIfPresent(fidelity, forKey: .fidelity)
        try c.encodeIfPresent(paraphrase, forKey: .paraphrase); try c.encodeIfPresent(latency, forKey: .latency)
        try c.encode(throughput, forKey: .throughput); try c.encode(size, forKey: .size)
        try c.encode(peakRssBytes, forKey: .peakRssBytes); try c.encode(threads, forKey: .threads)
        try c.encodeIfPresent(throughputPerS, forKey: .throughputPerS); try c.encodeIfPresent(latencyMs, forKey: .latencyMs)
        try c.encode(bitsPerWeight, forKey: .bitsPerWeight)
        try c.encode(nonFiniteOutputs, forKey: .nonFiniteOutputs)
        try c.encode(hasNonFinite, forKey: .nonFinite)
    }

    /// Pretty, key-sorted JSON.
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }
}

/// Agreement with a reference model on the same inputs.
public struct FidelityReport: Codable, Sendable {
    public var reference: String
    @FiniteOrNull public var cosineMean: Double
    @FiniteOrNull public var cosineMin: Double
    @FiniteOrNull public var maxAbsDiff: Double
    /// Top-5 nearest-neighbour overlap (embedding models).
    public var top5Overlap: Double?
    /// Same argmax as the reference (classifiers).
    public var topOneAgreement: Double?
    /// Spearman correlation of all pairwise cosine similarities against the reference's (embedding models): 1.0
    /// means every pair of items is ranked by similarity exactly as the reference ranks it.
    public var pairwiseSpearman: Double?

    public init(
        reference: String, cosineMean: Double, cosineMin: Double, maxAbsDiff: Double, top5Overlap: Double?, topOneAgreement: Double?
    ) {
        self.reference = reference; self.cosineMean = cosineMean; self.cosineMin = cosineMin; self.maxAbsDiff = maxAbsDiff
        self.top5Overlap = top5Overlap; self.topOneAgreement = topOneAgreement
    }

    enum CodingKeys: String, CodingKey {
        case reference, cosineMean = "cosine_mean", cosineMin = "cosine_min", maxAbsDiff = "max_abs_diff"
        case top5Overlap = "top5_overlap", topOneAgreement = "top1_agreement", pairwiseSpearman = "pairwise_spearman"
    }
}

/// Model size: file(s) on disk, raw tensor bytes and their zstd-compressed size.
public struct SizeReport: Codable, Sendable {
    /// Bytes of the model's files as loaded (a Keras file may also hold optimizer state).
    public var fileBytes: Int
    /// Bytes of the weights as safetensors.
    public var weightsBytes: Int
    /// Those weights compressed with zstd at `zstdLevel`.
    public var weightsZstdBytes: Int
    public var zstdLevel: Int

    public init(fileBytes: Int, weightsBytes: Int, weightsZstdBytes: Int, zstdLevel: Int) {
        self.fileBytes = fileBytes; self.weightsBytes = weightsBytes; self.weightsZstdBytes = weightsZstdBytes; self.zstdLevel = zstdLevel
    }

    enum CodingKeys: String, CodingKey {
        case fileBytes = "file_bytes", weightsBytes = "weights_bytes", weightsZstdBytes = "weights_zstd_bytes", zstdLevel = "zstd_level"
    }
}
