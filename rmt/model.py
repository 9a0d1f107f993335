"""Recurrent Memory Transformer (encoder variant) around a Hugging Face BERT-family encoder.

Every segment is laid out as ``[CLS] [MEM]xM [SEP] text [SEP] [PAD]...``. The memory slots are fed
through ``inputs_embeds``, so the backbone adds position and token-type embeddings as usual; the
last-layer hidden states at those slots become the memory of the next segment. The classifier
reads the pooled ``[CLS]`` of the last segment, which holds the question.

    memory = model.init_memory(batch_size)
    for segment in segments:
        step = model.step(memory, segment.input_ids, segment.attention_mask)
        memory = step.memory
    logits = step.logits
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig

from rmt.segments import Segment, check_overlap, check_snap, pack_segment, segment_batch


@dataclass
class RMTConfig:
    """Everything needed to rebuild the model; saved as ``config.json`` beside the weights."""

    num_mem_tokens: int = 10
    segment_size: int = 512  # positions per segment: [CLS] + memory + [SEP] + text + [SEP]
    num_classes: int = 6
    class_names: list[str] = field(default_factory=list)
    cls_token_id: int = 101
    sep_token_id: int = 102
    pad_token_id: int = 0
    classifier_dropout: float = 0.1
    backbone: dict = field(default_factory=dict)  # the encoder's own config.to_dict()
    # Text tokens each segment re-reads from the one before (``rmt.segments.segment_bounds``): a
    # reading choice, not a weight, so a checkpoint trained without it can be read with it.
    segment_overlap: int = 0
    # Tokens a segment's start may move forward to follow a sentence end (``rmt.segments.snapped_bounds``):
    # the other reading that keeps facts whole, by moving boundaries rather than reading tokens twice.
    segment_snap: int = 0
    sentence_end_ids: list[int] = field(default_factory=list)  # where a snapped segment may start after

    def __post_init__(self) -> None:
        check_overlap(self.segment_overlap, self.text_per_segment, "segment_overlap")
        check_snap(self.segment_snap, self.segment_overlap, self.text_per_segment, self.sentence_end_ids)

    @property
    def text_per_segment(self) -> int:
        """Text tokens that fit in one segment next to the specials and the memory."""
        return self.segment_size - self.num_mem_tokens - 3

    def backbone_config(self) -> PretrainedConfig:
        cfg = dict(self.backbone)
        model_type = cfg.pop("model_type", "bert")
        return AutoConfig.for_model(model_type, **cfg)


@dataclass
class StepOutput:
    """What one segment produced; the app keeps a list of these, the fast path keeps none."""

    memory: torch.Tensor  # [B, M, H] memory after this segment
    logits: torch.Tensor  # [B, C] class logits read from this segment's [CLS]
    attentions: dict[int, torch.Tensor] | None = None  # layer -> [B, heads, L, L]


class RecurrentMemoryTransformer(nn.Module):
    def __init__(self, config: RMTConfig, backbone: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        self.backbone = backbone if backbone is not None else AutoModel.from_config(config.backbone_config())
        hidden = self.backbone.config.hidden_size
        self.initial_memory = nn.Parameter(torch.randn(config.num_mem_tokens, hidden) * 0.02)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(hidden, config.num_classes)

    @property
    def device(self) -> torch.device:
        return self.initial_memory.device

    @property
    def dtype(self) -> torch.dtype:
        return self.initial_memory.dtype

    def read_segments(self, overlap: int = 0, snap: int = 0, sentence_end_ids: Sequence[int] = ()) -> None:
        """Read segments that re-read ``overlap`` tokens of the one before, or whose starts move up to ``snap``
        tokens to follow a sentence end, from now on: a reading choice, not a weight, so evaluation, the app
        and training set it on a loaded model (``RMTConfig`` checks it and raises ValueError)."""
        self.config = dataclasses.replace(
            self.config,
            segment_overlap=overlap,
            segment_snap=snap,
            sentence_end_ids=list(sentence_end_ids or self.config.sentence_end_ids),
        )

    def init_memory(self, batch_size: int) -> torch.Tensor:
        return self.initial_memory.unsqueeze(0).expand(batch_size, -1, -1)  # [B, M, H]

    def step(
        self,
        memory: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        record_layers: Sequence[int] | None = None,
    ) -> StepOutput:
        """Run one segment. ``input_ids`` already holds the layout; memory slots carry any id."""
        m = self.config.num_mem_tokens
        embeds = self.backbone.get_input_embeddings()(input_ids)  # [B, L, H]
        embeds = torch.cat([embeds[:, :1], memory.to(embeds.dtype), embeds[:, 1 + m :]], dim=1)
        token_type_ids = torch.zeros_like(input_ids)
        if record_layers:
            with eager_attention(self.backbone):
                out = self.backbone(
                    inputs_embeds=embeds,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                    output_attentions=True,
                )
            attentions = {layer: out.attentions[layer] for layer in record_layers}
        else:
            out = self.backbone(inputs_embeds=embeds, attention_mask=attention_mask, token_type_ids=token_type_ids)
            attentions = None
        hidden = out.last_hidden_state  # [B, L, H]
        pooled = out.pooler_output if out.pooler_output is not None else hidden[:, 0]
        logits = self.classifier(self.dropout(pooled))
        return StepOutput(memory=hidden[:, 1 : 1 + m], logits=logits, attentions=attentions)

    def answer(self, memory: torch.Tensor, question_ids: Sequence[int]) -> torch.Tensor:
        """Logits [B, C] for the question asked right now, given the memory so far.

        This is how the app shows the answer forming after every segment: one short extra
        segment holding only the question (training includes that layout).
        """
        seg = pack_segment([question_ids] * memory.shape[0], self.config, torch.ones(memory.shape[0], dtype=torch.bool))
        return self.step(memory, seg.input_ids.to(self.device), seg.attention_mask.to(self.device)).logits

    def forward(
        self,
        token_ids: Sequence[Sequence[int]],
        truncate_bptt: int | None = None,
        question_starts: Sequence[int | None] | None = None,
    ) -> torch.Tensor:
        """Classify a batch of token-id sequences of any (different) lengths; returns [B, C] logits.

        Sequences are split right-aligned, so every sample's last segment ends together and the
        shorter samples simply join later with the initial memory. ``truncate_bptt=k`` lets the
        gradient flow through only the last k segments (None = full BPTT, as in the paper).
        ``question_starts`` puts a sample's question in a segment of its own (see ``segment_batch``).
        """
        segments = segment_batch(token_ids, self.config, question_starts)
        return self.run_segments(segments, truncate_bptt=truncate_bptt)[0]

    def read(
        self,
        token_ids: Sequence[Sequence[int]],
        truncate_bptt: int | None = None,
        question_starts: Sequence[int | None] | None = None,
        memory: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``forward``'s logits [B, C], and the memory [B, M, H] entering each segment (the first
        is the starting memory): what training can ask of the memory itself (``rmt.train --slot-loss``).
        ``memory`` [B, M, H] starts each sample from a memory other than the initial one
        (``rmt.train --drift``: a memory that has already read a long stretch of noise)."""
        segments = segment_batch(token_ids, self.config, question_starts)
        logits, memories, _ = self.run_segments(segments, truncate_bptt, keep_memories=True, memory=memory)
        return logits, memories

    def carry(self, token_ids: Sequence[Sequence[int]], memory: torch.Tensor) -> torch.Tensor:
        """The memory [B, M, H] after reading ``token_ids`` on from ``memory`` (no question asked)."""
        return self.run_segments(segment_batch(token_ids, self.config), memory=memory)[2]

    def run_segments(
        self,
        segments: list[Segment],
        truncate_bptt: int | None = None,
        keep_memories: bool = False,
        memory: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Logits [B, C], the memory entering each segment if ``keep_memories`` (else only the
        last segment's, so a long run holds nothing per segment), and the memory after the last."""
        batch_size = segments[0].active.shape[0]
        memory = self.init_memory(batch_size) if memory is None else memory  # [B, M, H]
        memories_in = []
        logits = torch.zeros(batch_size, self.config.num_classes, device=self.device)
        first_with_grad = 0 if truncate_bptt is None else len(segments) - truncate_bptt
        for index, seg in enumerate(segments):
            if keep_memories or index == len(segments) - 1:
                memories_in.append(memory)  # a sample that has not started yet holds its starting memory
            # Segments before the last k run without a graph: their activations would only be
            # freed at the cut, so a long truncated run would hold as much as full BPTT.
            with torch.set_grad_enabled(torch.is_grad_enabled() and index >= first_with_grad):
                memory, out = self.step_active(memory, seg)
            if index == len(segments) - 1:
                rows = seg.active.nonzero().squeeze(1).to(self.device)  # samples that have this segment
                logits = logits.index_copy(0, rows, out.logits.to(logits.dtype))
        return logits, memories_in, memory

    def step_active(self, memory: torch.Tensor, seg: Segment) -> tuple[torch.Tensor, StepOutput]:
        """(memory [B, M, H] after ``seg``, its step's output over the A rows it has): a sample with no text
        at this step keeps its memory, so samples of different lengths share one batch."""
        rows = seg.active.nonzero().squeeze(1).to(self.device)
        out = self.step(memory[rows], seg.input_ids.to(self.device), seg.attention_mask.to(self.device))
        return memory.index_copy(0, rows, out.memory.to(memory.dtype)), out

    def iter_steps(
        self, token_ids: Sequence[int], memory: torch.Tensor | None = None
    ) -> Iterator[tuple[Segment, StepOutput]]:
        """Step through one sequence segment by segment (no attention kept): the app's live loop."""
        memory = self.init_memory(1) if memory is None else memory
        for seg in segment_batch([token_ids], self.config):
            out = self.step(memory, seg.input_ids.to(self.device), seg.attention_mask.to(self.device))
            memory = out.memory
            yield seg, out


@contextlib.contextmanager
def eager_attention(backbone: nn.Module) -> Iterator[None]:
    """Switch to eager attention for one call: only eager returns attention weights.

    The default is SDPA, which never materialises the attention matrix; inspection is the rare
    case, so it pays for the switch, not the fast path.
    """
    previous = backbone.config._attn_implementation
    backbone.set_attn_implementation("eager")
    try:
        yield
    finally:
        backbone.set_attn_implementation(previous)


def build_rmt(backbone_dir: str, config: RMTConfig | None = None) -> RecurrentMemoryTransformer:
    """A fresh RMT whose encoder holds the pretrained weights in ``backbone_dir``."""
    # Attention dropout forces SDPA onto its slow math path (4x slower, 3x memory): train without.
    backbone = AutoModel.from_pretrained(backbone_dir, attn_implementation="sdpa", attention_probs_dropout_prob=0.0)
    config = config or RMTConfig()
    config.backbone = backbone.config.to_diff_dict() | {"model_type": backbone.config.model_type}
    return RecurrentMemoryTransformer(config, backbone)
