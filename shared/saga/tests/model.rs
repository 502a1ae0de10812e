//! A property of the engine: under any interleaving of replies, timer firings and
//! redeliveries, a saga ends completed or fully compensated (its completed and timed-out
//! steps undone, latest first), never in between, and nothing after the end changes it.
//!
//! A generated world answers each command from a script (complete, fail or stay silent per
//! send; a compensation fails or stays silent a few times, then succeeds), and a generated
//! schedule picks which pending message (a reply or a timer firing) is delivered next and
//! whether it is delivered again later. Then everything left is delivered, firing the saga's
//! timer whenever nothing else is pending, until the saga ends.

use std::time::Duration;

use conveyor_domain::{SagaId, Timestamp};
use conveyor_saga::{
    Compensation, Engine, Input, Phase, Reply, Retry, SagaDefinition, SagaState, SagaStatus, Step,
    StepStatus, Transition,
};
use proptest::prelude::*;

static COMMANDS: [&str; 4] = ["s0.cmd", "s1.cmd", "s2.cmd", "s3.cmd"];
static DONE: [&str; 4] = ["s0.done", "s1.done", "s2.done", "s3.done"];
static FAILED: [&str; 4] = ["s0.failed", "s1.failed", "s2.failed", "s3.failed"];
static UNDO: [&str; 4] = ["s0.undo", "s1.undo", "s2.undo", "s3.undo"];
static UNDONE: [&str; 4] = ["s0.undone", "s1.undone", "s2.undone", "s3.undone"];
static UNDO_FAILED: [&str; 4] = [
    "s0.undo_failed",
    "s1.undo_failed",
    "s2.undo_failed",
    "s3.undo_failed",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Complete,
    Fail,
    Silent,
}

#[derive(Debug, Clone)]
struct World {
    /// Sends allowed per step (the definition's retry attempts).
    attempts: Vec<u32>,
    /// Per step, the answer to each forward send (silent beyond the script).
    forward: Vec<Vec<Answer>>,
    /// Per step, the answer to each compensation send before it succeeds (fail or silent).
    undo: Vec<Vec<Answer>>,
    /// Which pending message goes next, and whether it stays pending (redelivered later).
    schedule: Vec<(usize, bool)>,
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        3 => Just(Answer::Complete),
        1 => Just(Answer::Fail),
        1 => Just(Answer::Silent),
    ]
}

fn world() -> impl Strategy<Value = World> {
    (1usize..=4).prop_flat_map(|n| {
        (
            proptest::collection::vec(1u32..=3, n),
            proptest::collection::vec(proptest::collection::vec(answer(), 0..4), n),
            proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![Just(Answer::Fail), Just(Answer::Silent)],
                    0..4,
                ),
                n,
            ),
            proptest::collection::vec((any::<usize>(), any::<bool>()), 0..80),
        )
            .prop_map(|(attempts, forward, undo, schedule)| World {
                attempts,
                forward,
                undo,
                schedule,
            })
    })
}

fn definition(w: &World) -> SagaDefinition {
    let n = w.attempts.len();
    let steps = (0..n)
        .map(|i| {
            let step = Step::new(["s0", "s1", "s2", "s3"][i], COMMANDS[i], &DONE[i..=i])
                .failed_by(&FAILED[i..=i])
                .timeout(Duration::from_millis(100))
                .retry(Retry {
                    attempts: w.attempts[i],
                    backoff: Duration::from_millis(10 * i as u64),
                    max_backoff: Duration::from_millis(40),
                });
            if i + 1 < n {
                step.compensated_by(
                    Compensation::new(UNDO[i], &UNDONE[i..=i])
                        .retried_on(&UNDO_FAILED[i..=i])
                        .timeout(Duration::from_millis(50))
                        .backoff(Retry {
                            attempts: 1,
                            backoff: Duration::from_millis(5),
                            max_backoff: Duration::from_millis(20),
                        }),
                )
            } else {
                step
            }
        })
        .collect();
    SagaDefinition::new("model", steps).unwrap()
}

#[derive(Debug, Clone)]
enum Msg {
    Reply(Reply),
    Timer(u64),
}

/// What happened over a run, for the checks at the end.
#[derive(Debug, Default)]
struct Log {
    /// (step, phase, attempt) of every command, in order.
    sends: Vec<(usize, Phase, u32)>,
    /// Steps whose completing reply was accepted, in order.
    completed: Vec<usize>,
    /// Steps that timed out.
    timed_out: Vec<usize>,
    /// Outcomes reported.
    finished: Vec<SagaStatus>,
}

struct Run<'d> {
    def: &'d SagaDefinition,
    world: &'d World,
    state: SagaState,
    pool: Vec<Msg>,
    now: i64,
    log: Log,
}

impl Run<'_> {
    fn record(&mut self, before: &SagaState, t: Transition, input: &Input) {
        if t.ignored.is_some() {
            assert_eq!(&t.state, before, "an ignored input changed the state");
            assert!(t.effects.is_empty(), "an ignored input had effects");
            return;
        }
        if let Input::Reply(r) = input
            && let Some(i) = DONE.iter().position(|d| *d == r.topic)
        {
            self.log.completed.push(i);
        }
        // A timer on a step awaiting its reply either sends it again (still running) or
        // times it out (then it is timed out, or already being undone).
        if matches!(input, Input::Timer { .. }) {
            for (i, s) in t.state.steps.iter().enumerate() {
                if before.steps[i].status == StepStatus::Running && s.status != StepStatus::Running
                {
                    self.log.timed_out.push(i);
                }
            }
        }
        if let Some(o) = t.outcome() {
            self.log.finished.push(o.status);
        }
        if let Some(timer) = t.state.timer {
            self.pool.push(Msg::Timer(timer.seq));
        }
        for c in t.commands() {
            self.log.sends.push((c.step, c.phase, c.attempt));
            let answer = match c.phase {
                Phase::Forward => self.world.forward[c.step]
                    .get(c.attempt as usize - 1)
                    .copied()
                    .unwrap_or(Answer::Silent),
                Phase::Compensate => self.world.undo[c.step]
                    .get(c.attempt as usize - 1)
                    .copied()
                    .unwrap_or(Answer::Complete),
            };
            let topic = match (c.phase, answer) {
                (_, Answer::Silent) => None,
                (Phase::Forward, Answer::Complete) => Some(DONE[c.step]),
                (Phase::Forward, Answer::Fail) => Some(FAILED[c.step]),
                (Phase::Compensate, Answer::Complete) => Some(UNDONE[c.step]),
                (Phase::Compensate, Answer::Fail) => Some(UNDO_FAILED[c.step]),
            };
            if let Some(topic) = topic {
                self.pool.push(Msg::Reply(
                    Reply::on(topic).with_result(format!("id-{}", c.step)),
                ));
            }
        }
        self.state = t.state;
    }

    fn deliver(&mut self, msg: Msg) {
        let input = match msg {
            Msg::Reply(r) => {
                self.now += 1;
                Input::Reply(r)
            }
            Msg::Timer(seq) => {
                // The timer loop fires a timer at its due time, never before.
                if let Some(t) = self.state.timer.filter(|t| t.seq == seq) {
                    self.now = self.now.max(t.due.millis());
                }
                Input::Timer { seq }
            }
        };
        let before = self.state.clone();
        let t = Engine::new(self.def)
            .apply(&before, &input, Timestamp::from_millis(self.now))
            .unwrap();
        self.record(&before, t, &input);
    }
}

fn run(world: &World) -> (SagaDefinition, Run<'_>) {
    let def = definition(world);
    // The definition is borrowed by the run; leak it for the test's lifetime.
    let def: &'static SagaDefinition = Box::leak(Box::new(def));
    let start = Engine::new(def).start(
        SagaId::parse("saga-1").unwrap(),
        serde_json::Value::Null,
        Timestamp::from_millis(0),
    );
    let mut r = Run {
        def,
        world,
        state: start.state.clone(),
        pool: Vec::new(),
        now: 0,
        log: Log::default(),
    };
    let initial = SagaState {
        version: 0,
        ..start.state.clone()
    };
    r.record(&initial, start, &Input::Timer { seq: u64::MAX });
    for &(pick, again) in &world.schedule {
        if r.pool.is_empty() {
            break;
        }
        let i = pick % r.pool.len();
        let msg = if again {
            r.pool[i].clone()
        } else {
            r.pool.remove(i)
        };
        r.deliver(msg);
    }
    for _ in 0..10_000 {
        if r.state.status.is_finished() {
            break;
        }
        if r.pool.is_empty() {
            let timer = r
                .state
                .timer
                .expect("an unfinished saga always waits for a timer");
            r.deliver(Msg::Timer(timer.seq));
        } else {
            let msg = r.pool.remove(0);
            r.deliver(msg);
        }
    }
    ((*def).clone(), r)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn every_saga_ends_completed_or_fully_compensated(world in world()) {
        let (def, mut r) = run(&world);
        let n = def.steps().len();
        let st = r.state.clone();
        prop_assert!(st.status.is_finished(), "not finished: {st:?}");
        prop_assert_eq!(&r.log.finished, &vec![st.status]);
        prop_assert_eq!(st.timer, None);

        // Forward sends: in step order, each step only after the one before completed, and
        // never more often than its retry policy allows.
        let mut highest = 0;
        for &(step, phase, attempt) in &r.log.sends {
            if phase == Phase::Forward {
                prop_assert!(step <= highest + 1);
                prop_assert!(step == 0 || r.log.completed.contains(&(step - 1)));
                prop_assert!(attempt <= world.attempts[step]);
                highest = highest.max(step);
            }
        }
        let undo_sends: Vec<usize> = r.log.sends.iter()
            .filter(|s| s.1 == Phase::Compensate && s.2 == 1)
            .map(|s| s.0)
            .collect();
        match st.status {
            SagaStatus::Completed => {
                prop_assert!(st.steps.iter().all(|s| s.status == StepStatus::Completed));
                prop_assert!(undo_sends.is_empty());
            }
            SagaStatus::Compensated => {
                // Exactly the steps that completed or timed out (and can be undone), latest
                // first, each once; all of them undone at the end; nothing else touched.
                let mut expected: Vec<usize> = r.log.completed.iter()
                    .chain(&r.log.timed_out)
                    .copied()
                    .filter(|&i| i + 1 < n)
                    .collect();
                expected.sort_unstable();
                expected.dedup();
                expected.reverse();
                prop_assert_eq!(&undo_sends, &expected);
                prop_assert_eq!(&st.compensation_path, &expected);
                for (i, s) in st.steps.iter().enumerate() {
                    if expected.contains(&i) {
                        prop_assert_eq!(s.status, StepStatus::Compensated);
                    } else {
                        prop_assert!(matches!(s.status, StepStatus::Pending | StepStatus::Failed | StepStatus::TimedOut), "{i}: {:?}", s.status);
                    }
                }
                let failed = st.steps.iter().filter(|s| s.status == StepStatus::Failed).count();
                prop_assert_eq!(failed + r.log.timed_out.len(), 1, "one step failed or timed out");
            }
            s => prop_assert!(false, "in between: {s:?}"),
        }

        // Late and repeated deliveries after the end change nothing.
        let end = st.clone();
        let sends = r.log.sends.len();
        while let Some(msg) = r.pool.pop() {
            r.deliver(msg);
        }
        for topic in DONE.iter().chain(&FAILED).chain(&UNDONE) {
            r.deliver(Msg::Reply(Reply::on(*topic)));
        }
        prop_assert_eq!(&r.state, &end);
        prop_assert_eq!(r.log.sends.len(), sends);
    }
}
