"""RMT Explorer: watch a recurrent memory carry facts through millions of tokens.

Wiring only: every computation lives in ``rmt`` (``rmt.explorer`` does the work, ``rmt.plots``
draws). Starts offline: no Hub or analytics call unless a Hub checkpoint id is configured.

    python app.py                       # http://127.0.0.1:7860
    RMT_CHECKPOINT=owner/repo python app.py   # a checkpoint from the Hub instead of ./checkpoints
    RMT_EXTRA_CHECKPOINTS= python app.py      # serve the default alone (not rmt-minilm-reasoning beside it)
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
if "/" not in os.environ.get("RMT_CHECKPOINT", "/").strip("./") or os.path.isdir(os.environ.get("RMT_CHECKPOINT", ".")):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing to fetch: never wait on the network

import functools
from collections.abc import Callable, Iterator

import gradio as gr

from rmt import measured_notes, plots
from rmt.explorer import AUTO, Explorer
from rmt.request_limit import BodySizeLimit, body_limit_bytes

try:  # ZeroGPU on Hugging Face Spaces; a no-op everywhere else
    import spaces

    gpu = spaces.GPU(duration=120)
except ImportError:

    def gpu(fn: Callable) -> Callable:
        return fn


FLOPS_TOKENS = 2_048_000  # the Compute tab opens at about the paper's 2M tokens, its table already filled in
LENGTH_PRESETS = ["1000", "4000", "32000", "256000", "1000000", "2000000"]
# One click on stage: (task, tokens, depth %, seed, noise, model); the first three where the models are reliable.
CUT_SCENE = "A fact at a segment boundary · 1.8K tokens"
SCENES = {
    "Memorize · 2K tokens": ("memorize", 2000, None, 2, "valid", AUTO),
    "Detect · 3.5K tokens, fact at 30%": ("detect", 3500, 30, 3, "valid", AUTO),
    "Reasoning · 250 tokens": ("reasoning", 250, None, 1, "valid", AUTO),
    # the book's "this office is called a sinecure" lands in the question's segment; the memory keeps the kitchen
    "A room named by the book · 3.3K tokens": ("memorize", 3296, None, 1592, "valid", "rmt-minilm-babi"),
    # rmt-minilm-babi's commonest Reasoning miss: kitchen (51%), the room of the fact the question does not ask about
    "Reasoning reads the other fact · 920 tokens": ("reasoning", 920, None, 0, "valid", "rmt-minilm-babi"),
    # "sandra travelled | to the hallway.": plain segments cut the fact (office at 30%, fp32 and bf16); the
    # shipped reading moves the boundary to the sentence end and reads it whole: hallway at 98%
    # (RMT_SEGMENT_OVERLAP=0 shows the cut)
    CUT_SCENE: ("detect", 1840, None, 538, "valid", "rmt-minilm-babi"),
}
CSS = """
.rmt-preview { font-size: 1.05rem; line-height: 1.5; max-height: 420px; overflow-y: auto; }
.rmt-preview mark { background: #ffb000; color: #000; padding: 0 .2em; border-radius: 3px; font-weight: 600; }
.rmt-preview mark.q { background: #5ab4ff; }
.rmt-preview mark.room { background: #d0d0d0; }
#status, #verdict { font-size: 1.15rem; }
"""

explorer = Explorer()


def user_errors(fn: Callable) -> Callable:
    """Bad input becomes a readable message in the page and the API, never a crash."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ValueError, OSError, UnicodeError) as error:
            raise gr.Error(str(error)) from None

    return wrapper


def user_errors_stream(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            yield from fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ValueError, OSError, UnicodeError) as error:
            raise gr.Error(str(error)) from None

    return wrapper


@user_errors
def generate(task, tokens, depth, random_depth, seed, noise_source, noise_text, facts, question, answer):
    """Build a haystack. Returns its id (pass it to `run`), a preview and a summary."""
    hay_id, preview, summary = explorer.generate(
        task, tokens, None if random_depth else depth, seed, noise_text, facts, question, answer, noise_source
    )
    return hay_id, preview, summary, gr.update(maximum=summary["segments"], value=1)


def clear_run_view() -> tuple:
    """A new haystack: the last run's verdict and plots were about another one, so they go
    (the Compute tab keeps its measured time, which it labels as the last run's)."""
    return "Haystack ready: press **Run RMT**.", "", None, None, None, None


@gpu
@user_errors_stream
def run(hay_id: str, model: str = AUTO) -> Iterator[tuple]:
    """Run the RMT segment by segment; streams progress, the answer forming and, at the end, the verdict.

    `model` names a served checkpoint, or "auto" for the one evaluation measured best on this task and length.
    """
    yield from run_views(hay_id, resume=False, model=model)


@gpu
@user_errors_stream
def continue_run(hay_id: str) -> Iterator[tuple]:
    """Go on with a stopped run from the segment it stopped at, with its model; the same outputs as `run`."""
    yield from run_views(hay_id, resume=True)


def run_views(hay_id: str, resume: bool, model: str = AUTO) -> Iterator[tuple]:
    for update, view in enumerate(explorer.run(hay_id, resume=resume, model=model)):
        # the time plot is the last run's: a new run sets it back to the benchmark until it is done
        time_fig = view.time_figure if view.done else (explorer.benchmark_figure() if update == 0 else gr.update())
        inspect_fig = None
        segment_value = gr.update()
        flops_fig = gr.update()
        if view.done:
            flops_fig = explorer.flops_figure(view.tokens)
            segment_value = gr.update(value=view.segment, maximum=view.num_segments)
            try:
                inspect_fig = explorer.inspect(hay_id, view.segment, 1, "mean")
            except ValueError:
                inspect_fig = None
        yield (
            view.status,
            view.answer_figure,
            view.change_figure,
            view.memory_figure,
            time_fig,
            view.verdict,
            segment_value,
            inspect_fig if inspect_fig is not None else gr.update(),
            flops_fig,
        )


def request_run(hay_id: str) -> None:
    explorer.request_run(hay_id)


def stop(hay_id: str) -> str:
    """Stop the run at its next segment; returns its status once it is over."""
    return explorer.stop(hay_id)


@user_errors
def inspect(hay_id: str, segment, layer, head):
    """Attention of [CLS], memory (and question) over one segment, re-run from its stored memory."""
    return explorer.inspect(hay_id, segment, layer, head)


@user_errors
def flops(tokens):
    """Forward FLOPs of full attention vs RMT at this length for our backbone and the OPT family."""
    num_tokens = explorer.flop_tokens(tokens)
    return explorer.flops(num_tokens), explorer.flops_figure(num_tokens, marker="compared")


def end_previous_run(hay_id: str) -> None:
    """A new haystack ends this visitor's run in progress, so the next run does not queue behind it."""
    explorer.end_run(hay_id)


def scene(name: str, hay_id: str):
    end_previous_run(hay_id)
    task, tokens, depth, seed, noise, model = SCENES[name]
    model = model if model in explorer.served else AUTO  # a server started on other checkpoints
    return (task, str(tokens), depth if depth is not None else 50, depth is None, seed, noise, model)


def build() -> gr.Blocks:
    config = explorer.model.config
    with gr.Blocks(title="RMT Explorer") as demo:
        gr.Markdown(
            f"# RMT Explorer: a {config.segment_size}-position encoder with a recurrent memory\n"
            f"A Recurrent Memory Transformer reads a long text **one segment at a time** "
            f"({config.segment_size} positions, {config.text_per_segment} of them text) and carries "
            f"**{config.num_mem_tokens} memory vectors** from each segment to the next. Hide a fact in a long book, "
            "ask a question at the very end, and watch the memory pick the fact up, keep it, and answer.\n\n"
            + explorer.device_line()
        )
        hay_id = gr.Textbox(visible=False, label="haystack id")
        with gr.Tab("Haystack & run"):
            with gr.Row():
                with gr.Column(scale=1):
                    task = gr.Radio(explorer.task_choices(), value="detect", label="Task")
                    model = gr.Radio(
                        explorer.model_choices(),
                        value=AUTO,
                        label="Model",
                        info="the haystack summary's `model` is the checkpoint auto runs",
                        visible=len(explorer.served) > 1,
                    )
                    tokens = gr.Dropdown(
                        LENGTH_PRESETS,
                        value="4000",
                        allow_custom_value=True,
                        label=f"Length in tokens (max {explorer.limits.max_tokens:,})",
                    )
                    with gr.Row():
                        depth = gr.Slider(0, 100, value=50, step=1, label="Fact depth %")
                        random_depth = gr.Checkbox(value=True, label="random depth")
                    with gr.Row():
                        seed = gr.Number(value=0, label="Seed (0 to 2^31 - 1)", step=1)
                        noise_source = gr.Radio(
                            [
                                ("Moby-Dick (never trained on)", "valid"),
                                ("Moby-Dick without its room sentences", "valid-no-rooms"),
                                ("Austen (training books)", "train"),
                            ],
                            value="valid",
                            label="Noise",
                        )
                    with gr.Accordion("Custom haystack (task: custom)", open=False):
                        noise_text = gr.Textbox(lines=4, label="Noise text (empty: the built-in book)", max_lines=8)
                        facts = gr.Textbox(
                            lines=2, label="Facts, one per line", value="Sandra journeyed to the garden."
                        )
                        question = gr.Textbox(label="Question", value="Where is Sandra?")
                        answer = gr.Textbox(label="Expected answer (optional)", value="garden")
                    generate_btn = gr.Button("Generate haystack", variant="primary")
                    scene_buttons = [gr.Button(f"▶ {name}") for name in SCENES]
                with gr.Column(scale=2):
                    preview = gr.HTML(label="Preview", value="<p>Generate a haystack to see where the facts are.</p>")
                    summary = gr.JSON(label="Haystack", visible=True)
            with gr.Row():
                run_btn = gr.Button("Run RMT", variant="primary", size="lg")
                stop_btn = gr.Button("Stop", variant="stop", size="lg")
                continue_btn = gr.Button("Continue", size="lg")
            status = gr.Markdown("Not started.", elem_id="status")
            verdict = gr.Markdown("", elem_id="verdict")
            with gr.Row():
                answer_plot = gr.Plot(label="Answer forming")
                change_plot = gr.Plot(label="Memory update per segment")
            with gr.Row():
                memory_plot = gr.Plot(label="Memory over time")
                with gr.Column():
                    with gr.Row():
                        segment = gr.Slider(1, 2, value=1, step=1, label="Segment to inspect")
                        layer = gr.Dropdown(
                            [str(i) for i in range(1, explorer.model.backbone.config.num_hidden_layers + 1)],
                            value="1",
                            label="Layer",
                        )
                        head = gr.Dropdown(
                            ["mean"] + [str(h) for h in range(explorer.model.backbone.config.num_attention_heads)],
                            value="mean",
                            label="Head",
                        )
                    inspect_btn = gr.Button("Show attention")
            attention_plot = gr.Plot(label="Attention")
        with gr.Tab("Compute"):
            gr.Markdown(
                "Forward FLOPs over input length. Full attention grows with the square of the length; "
                "RMT pays one segment per ~segment of text. Below, measured wall time on one haystack: RMT "
                "against full attention (the same encoder over the whole input), timed by `rmt.bench` on the "
                "machine named in the legend, and your last run beside them."
            )
            with gr.Row():
                flops_tokens = gr.Number(value=FLOPS_TOKENS, label="Tokens", step=1)
                flops_btn = gr.Button("Compare")
            flops_plot = gr.Plot(value=explorer.flops_figure(), label="FLOPs")
            flops_json = gr.JSON(value=explorer.flops(FLOPS_TOKENS), label="FLOPs at this length")
            time_plot = gr.Plot(value=explorer.benchmark_figure(), label="Measured time")
        with gr.Tab("Accuracy"):
            dashes = zip(plots.MODEL_DASHES, explorer.served, strict=False)
            line_styles = ", ".join(f"{dash}: `{name}`" for dash, name in dashes)
            gr.Markdown(
                "Accuracy of the shipped checkpoints on the held-out book (Moby-Dick), from their `eval.json`: "
                f"a colour per task, a line style per checkpoint ({line_styles}). "
                "Dashed: the same encoder fine-tuned without memory, reading only the last segment. "
                "Open circles: points measured otherwise than the checkpoint is read now (hover one for how: "
                "read with an overlap where it now moves boundaries to sentence ends, or on an earlier version of "
                "the book); "
                "not re-run since. "
                "Stars: the same book with its sentences that name a room taken out (noise *Moby-Dick without "
                "its room sentences*, from `no_rooms.json`): how long the memory keeps a fact when nothing else "
                "names a room. Bars are 95% intervals; hover a point for its count."
            )
            gr.Plot(value=explorer.accuracy_figure(), label="Accuracy")
            needle = explorer.needle_figure()
            if needle is not None:
                gr.Markdown(
                    "The needle map: the Detect fact placed at a fixed depth of the noise, at each length "
                    "(from each checkpoint's `needle.json`, written by `rmt.evaluate --depths`)."
                )
                gr.Plot(value=needle, label="Needle map")
        with gr.Tab("About"):
            gr.Markdown(about_markdown())
            gr.Plot(value=plots.layout_figure(config.num_mem_tokens, config.segment_size), label="Segment layout")
            gr.Markdown(explorer.device_line())
            for name in explorer.served:
                with gr.Accordion(f"Model card: {name}", open=False):
                    gr.Markdown(explorer.model_card(name))

        run_view = [status, verdict, answer_plot, change_plot, memory_plot, attention_plot]
        generate_btn.click(end_previous_run, hay_id, None, api_visibility="private", queue=False).then(
            generate,
            [task, tokens, depth, random_depth, seed, noise_source, noise_text, facts, question, answer],
            [hay_id, preview, summary, segment],
            api_name="generate",
            concurrency_limit=4,
        ).success(clear_run_view, None, run_view, api_visibility="private", queue=False)
        run_outputs = [
            status,
            answer_plot,
            change_plot,
            memory_plot,
            time_plot,
            verdict,
            segment,
            attention_plot,
            flops_plot,
        ]
        run_btn.click(request_run, hay_id, None, api_visibility="private", queue=False).then(
            run, [hay_id, model], run_outputs, api_name="run", concurrency_id="model", concurrency_limit=1
        )
        continue_btn.click(request_run, hay_id, None, api_visibility="private", queue=False).then(
            continue_run, hay_id, run_outputs, api_name="continue", concurrency_id="model", concurrency_limit=1
        )
        # No Gradio `cancels`: they would kill the run before it shows where it stopped. Stop ends a
        # run at its next segment, or, if it still waits in the queue, before its first (request_run).
        stop_btn.click(stop, hay_id, status, api_name="stop", queue=False)
        inspect_btn.click(
            inspect,
            [hay_id, segment, layer, head],
            attention_plot,
            api_name="inspect",
            concurrency_id="model",
            concurrency_limit=1,
        )
        flops_btn.click(flops, flops_tokens, [flops_json, flops_plot], api_name="flops")
        for button, name in zip(scene_buttons, SCENES, strict=True):
            button.click(
                functools.partial(scene, name),
                hay_id,
                [task, tokens, depth, random_depth, seed, noise_source, model],
                api_visibility="private",
            ).then(
                generate,
                [task, tokens, depth, random_depth, seed, noise_source, noise_text, facts, question, answer],
                [hay_id, preview, summary, segment],
                api_visibility="private",
            ).success(clear_run_view, None, run_view, api_visibility="private", queue=False).success(
                request_run, hay_id, None, api_visibility="private", queue=False
            ).success(
                run, [hay_id, model], run_outputs, concurrency_id="model", concurrency_limit=1, api_visibility="private"
            )
    demo.queue(max_size=int(os.environ.get("RMT_QUEUE_SIZE", 16)))
    return demo


ABOUT = """
### What is RMT?
The **Recurrent Memory Transformer** (Bulatov, Kuratov & Burtsev, NeurIPS 2022; *Scaling Transformer to 1M
tokens and beyond with RMT*, arXiv 2304.11062) turns a fixed-window encoder into a recurrent reader. A few
**memory tokens** sit at the start of every segment, right after `[CLS]`. The encoder's outputs at those
positions become the memory of the next segment; the question at the end is answered from the `[CLS]` of the
last segment. Compute grows linearly with length and memory stays constant, so the model can run over
2,000,000 tokens; how far the shipped model actually keeps a fact is measured in the Accuracy tab.

### The tasks (from the paper)
- **Memorize**: one fact (`Mary went to the kitchen.`) at the very start, then noise, then `Where is Mary?`
- **Detect & Memorize**: the same fact hidden at a random sentence in the noise.
- **Reasoning**: two relation facts (`The hallway is east of the bathroom.`) at random places, then a question
  that needs the right one (`What is the bathroom east of?`).

The noise is real book text (Project Gutenberg): Jane Austen for training, *Moby-Dick* never seen in training.

Every task puts **one person** in a haystack, so the shipped model never learned to tell Mary's room from
John's: with facts about several people it mostly answers a room it read, whoever it belongs to. A custom
haystack with several people says so, quoting the measured rate (the model card's "Keeping people apart").

The book names rooms too ("By some writers this office is called a sinecure."). Such a sentence moves nobody,
but the model can take it for a fact, and on long haystacks that is where Memorize and Detect facts are lost.
`rmt-minilm-babi` was last fine-tuned with such sentences planted in its noise (`--planted-rooms`), and keeps
more facts through them than it did, but not all. Measured on *Moby-Dick*, and on it with its 24 room-naming
sentences taken out (the Accuracy tab's stars):

{room_sentences}

The preview counts these sentences, the answer plot marks them ▼, and a wrong verdict quotes the one that named
the room the model gave. The noise *Moby-Dick without its room sentences* runs a haystack without them.

Reasoning's misses are of another kind: most are the room of the other fact, and the reading picks by the
asked fact's direction more than by the question:

{reasoning_misses}

A Reasoning verdict gives the rate for its own direction (the model card's "Reasoning's misses").
A second checkpoint, `rmt-minilm-reasoning`, was trained to keep each direction's room in a memory
slot of its own, where the question can find it: it reads by the question, and gets Reasoning right more often
than `rmt-minilm-babi` from 115 to 117,760 tokens, but over long noise it loses more Memorize and Detect facts (the
Accuracy tab plots both). The app serves both. The **Model** choice *auto* runs, for each haystack, the
checkpoint that evaluation measured more accurate on its task at the nearest length (a custom haystack counts as
Reasoning if a fact states a direction, else as Detect; a tie goes to `rmt-minilm-babi`): Reasoning gets
`rmt-minilm-reasoning`, Memorize and Detect `rmt-minilm-babi`. Pick a checkpoint by name to compare both on one
haystack; the verdict names the one that answered and what evaluation measured for it near that length.

{cuts}

### What the plots show
- **Answer forming**: after every segment the question is asked of the memory so far; ▼ marks a sentence of
  the text that names a room without being a fact.
- **Memory update**: how much each segment rewrites the memory (‖Δ memory‖ / ‖memory‖); facts cause spikes
  ("write"), noise barely moves it ("retain").
- **Memory over time**: cosine distance between memory states; blocks break where facts arrive.
- **Attention**: rows are `[CLS]`, the memory slots and (last segment) the question tokens; fact tokens are
  highlighted. Any segment of a finished run is re-run from its stored memory with attention recorded.
- **Measured time** (Compute tab): seconds against tokens on log-log axes, where RMT's time is a line of slope 1
  and full attention's bends up towards slope 2. The benchmark lines were timed by `rmt.bench` on the machine
  their legend names; your run is timed on this one.
"""


def about_markdown() -> str:
    """The About text with its measured lines read from the served checkpoints' tables."""
    served = list(explorer.served.values())
    misses = [line for m in served if (line := measured_notes.reasoning_miss_line(m))]
    unmeasured = "- (not measured for the served checkpoints)"
    return ABOUT.format(
        room_sentences="\n".join(measured_notes.room_sentence_lines(served)) or unmeasured,
        reasoning_misses="\n".join(f"- {line}" for line in misses) or unmeasured,
        cuts=measured_notes.cuts_paragraph(served, CUT_SCENE),
    )


demo = build()

if __name__ == "__main__":
    from starlette.middleware import Middleware

    demo.launch(
        server_name=os.environ.get("RMT_HOST", "127.0.0.1"),
        server_port=int(os.environ.get("RMT_PORT", 7860)),
        css=CSS,
        footer_links=["api"],
        app_kwargs={
            "middleware": [Middleware(BodySizeLimit, max_bytes=body_limit_bytes(explorer.limits.max_paste_chars))]
        },
    )
