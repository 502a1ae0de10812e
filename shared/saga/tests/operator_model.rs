//! A property of the engine with an operator at work: under any interleaving of replies,
//! timer firings, redeliveries, aborts and retries, with compensations that give up after a
//! few sends, an abort is taken only from a running saga and a retry only from a failed one
//! (anything else is refused and changes nothing), no send of a command repeats an attempt
//! number, and a saga whose failed compensations are retried until they succeed ends
//! completed or fully compensated: exactly the steps that completed, timed out or were
//! aborted undone, latest first.

use std::collections::HashMap;
use std::time::Duration;

use conveyor_domain::{SagaId, Timestamp};
use conveyor_saga::{
    Compensation, Engine, Ignored, Input, Phase, Reply, Retry, SagaDefinition, SagaState,
    SagaStatus, Step, StepStatus, Transition,
};
use proptest::prelude::*;

static COMMANDS: [&str; 4] = ["s0.cmd", "s1.cmd", "s2.cmd", "s3.cmd"];
static DONE: [&str; 4] = ["s0.done", "s1.done", "s2.done", "s3.done"];
static FAILED: [&str; 4] = ["s0.failed", "s1.failed", "s2.failed", "s3.failed"];
static UNDO: [&str; 4] = ["s0.undo", "s1.undo", "s2.undo", "s3.undo"];
static UNDONE: [&str; 4] = ["s0.undone", "s1.undone", "s2.undone", "s3.undone"];
static UNDO_FAILED: [&str; 4] = ["s0.nok", "s1.nok", "s2.nok", "s3.nok"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Complete,
    Fail,
    Silent,
}

#[derive(Debug, Clone, Copy)]
enum Act {
    Deliver(usize, bool),
    Abort,
    Retry,
}

#[derive(Debug, Clone)]
struct World {
    attempts: Vec<u32>,
    gives_up_after: Vec<Option<u32>>,
    forward: Vec<Vec<Answer>>,
    undo: Vec<Vec<Answer>>,
    acts: Vec<Act>,
}

fn world() -> impl Strategy<Value = World> {
    let answer = prop_oneof![
        3 => Just(Answer::Complete),
        1 => Just(Answer::Fail),
        2 => Just(Answer::Silent),
    ];
    let undo = prop_oneof![Just(Answer::Fail), Just(Answer::Silent)];
    let act = prop_oneof![
        8 => (any::<usize>(), any::<bool>()).prop_map(|(i, again)| Act::Deliver(i, again)),
        1 => Just(Act::Abort),
        1 => Just(Act::Retry),
    ];
    (1usize..=4).prop_flat_map(move |n| {
        (
            proptest::collection::vec(1u32..=2, n),
            proptest::collection::vec(proptest::option::of(1u32..=2), n),
            proptest::collection::vec(proptest::collection::vec(answer.clone(), 0..3), n),
            proptest::collection::vec(proptest::collection::vec(undo.clone(), 0..5), n),
            proptest::collection::vec(act.clone(), 0..60),
        )
            .prop_map(|(attempts, gives_up_after, forward, undo, acts)| World {
                attempts,
                gives_up_after,
                forward,
                undo,
                acts,
            })
    })
}

fn definition(w: &World) -> SagaDefinition {
    let n = w.attempts.len();
    let steps = (0..n)
        .map(|i| {
            let retry = Retry {
                attempts: w.attempts[i],
                backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(20),
            };
            let step = Step::new(["s0", "s1", "s2", "s3"][i], COMMANDS[i], &DONE[i..=i])
                .failed_by(&FAILED[i..=i])
                .timeout(Duration::from_millis(100))
                .retry(retry);
            if i + 1 == n {
                return step;
            }
            let undo = Compensation::new(UNDO[i], &UNDONE[i..=i])
                .retried_on(&UNDO_FAILED[i..=i])
                .timeout(Duration::from_millis(50))
                .backoff(retry);
            step.compensated_by(match w.gives_up_after[i] {
                Some(sends) => undo.gives_up_after(sends),
                None => undo,
            })
        })
        .collect();
    SagaDefinition::new("model", steps).unwrap()
}

#[derive(Debug, Clone)]
enum Msg {
    Reply(Reply),
    Timer(u64),
}

struct Run<'d> {
    def: &'d SagaDefinition,
    world: &'d World,
    state: SagaState,
    pool: Vec<Msg>,
    now: i64,
    /// Attempt numbers sent, per (step, phase).
    sent: HashMap<(usize, Phase), Vec<u32>>,
    aborts: usize,
}

impl Run<'_> {
    fn apply(&mut self, input: &Input) -> Transition {
        let before = self.state.clone();
        let t = Engine::new(self.def)
            .apply(&before, input, Timestamp::from_millis(self.now))
            .unwrap();
        if t.ignored.is_some() {
            assert_eq!(t.state, before, "an ignored input changed the state");
            assert!(t.effects.is_empty());
            return t;
        }
        if let Some(timer) = t.state.timer {
            self.pool.push(Msg::Timer(timer.seq));
        }
        for c in t.commands() {
            self.sent
                .entry((c.step, c.phase))
                .or_default()
                .push(c.attempt);
            let script = match c.phase {
                Phase::Forward => &self.world.forward[c.step],
                Phase::Compensate => &self.world.undo[c.step],
            };
            let fallback = match c.phase {
                Phase::Forward => Answer::Silent,
                Phase::Compensate => Answer::Complete,
            };
            let answer = script
                .get(c.attempt as usize - 1)
                .copied()
                .unwrap_or(fallback);
            let topic = match (c.phase, answer) {
                (_, Answer::Silent) => None,
                (Phase::Forward, Answer::Complete) => Some(DONE[c.step]),
                (Phase::Forward, Answer::Fail) => Some(FAILED[c.step]),
                (Phase::Compensate, Answer::Complete) => Some(UNDONE[c.step]),
                (Phase::Compensate, Answer::Fail) => Some(UNDO_FAILED[c.step]),
            };
            if let Some(topic) = topic {
                self.pool.push(Msg::Reply(Reply::on(topic)));
            }
        }
        self.state = t.state.clone();
        t
    }

    fn deliver(&mut self, msg: Msg) {
        let input = match msg {
            Msg::Reply(r) => {
                self.now += 1;
                Input::Reply(r)
            }
            Msg::Timer(seq) => {
                if let Some(t) = self.state.timer.filter(|t| t.seq == seq) {
                    self.now = self.now.max(t.due.millis());
                }
                Input::Timer { seq }
            }
        };
        self.apply(&input);
    }

    fn abort(&mut self) {
        let status = self.state.status;
        let t = self.apply(&Input::Abort {
            reason: "model".into(),
        });
        if status == SagaStatus::Running {
            assert_eq!(t.ignored, None);
            assert_ne!(t.state.status, SagaStatus::Running);
            self.aborts += 1;
        } else {
            assert_eq!(t.ignored, Some(Ignored::NotAbortable(status)));
        }
    }

    fn retry(&mut self) {
        let status = self.state.status;
        let t = self.apply(&Input::Retry);
        if status == SagaStatus::Failed {
            assert_eq!(t.ignored, None);
            assert_eq!(
                t.commands().count(),
                1,
                "a retry sends the compensation again"
            );
        } else {
            assert_eq!(t.ignored, Some(Ignored::NotRetryable(status)));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn with_an_operator_every_saga_ends_completed_or_fully_compensated(world in world()) {
        let def = definition(&world);
        let n = def.steps().len();
        let start = Engine::new(&def).start(
            SagaId::parse("saga-1").unwrap(),
            serde_json::Value::Null,
            Timestamp::from_millis(0),
        );
        let mut r = Run {
            def: &def,
            world: &world,
            state: start.state.clone(),
            pool: vec![Msg::Timer(start.state.timer.unwrap().seq)],
            now: 0,
            sent: HashMap::from([((0, Phase::Forward), vec![1])]),
            aborts: 0,
        };
        if let Some(a) = world.forward[0].first() {
            let topic = match a {
                Answer::Complete => Some(DONE[0]),
                Answer::Fail => Some(FAILED[0]),
                Answer::Silent => None,
            };
            if let Some(topic) = topic {
                r.pool.push(Msg::Reply(Reply::on(topic)));
            }
        }
        for &act in &world.acts {
            match act {
                Act::Abort => r.abort(),
                Act::Retry => r.retry(),
                Act::Deliver(_, _) if r.pool.is_empty() => {}
                Act::Deliver(pick, again) => {
                    let i = pick % r.pool.len();
                    let msg = if again { r.pool[i].clone() } else { r.pool.remove(i) };
                    r.deliver(msg);
                }
            }
        }
        // Then: everything delivered, timers fired when nothing else is pending, and a saga
        // stopped as failed retried by the operator, until it ends.
        for _ in 0..10_000 {
            match r.state.status {
                s if s.is_finished() => break,
                SagaStatus::Failed => r.retry(),
                _ if r.pool.is_empty() => {
                    let timer = r.state.timer.expect("an unfinished saga waits for a timer");
                    r.deliver(Msg::Timer(timer.seq));
                }
                _ => {
                    let msg = r.pool.remove(0);
                    r.deliver(msg);
                }
            }
        }
        let st = &r.state;
        prop_assert!(st.status.is_finished(), "not finished: {st:?}");
        prop_assert!(r.aborts <= 1);
        for ((step, phase), attempts) in &r.sent {
            let expected: Vec<u32> = (1..=u32::try_from(attempts.len()).unwrap()).collect();
            prop_assert_eq!(attempts, &expected, "{} {:?}: attempt numbers repeat or skip", step, phase);
        }
        if st.status == SagaStatus::Compensated {
            let undone: Vec<usize> = (0..n)
                .rev()
                .filter(|&i| i + 1 < n && st.steps[i].status == StepStatus::Compensated)
                .collect();
            prop_assert_eq!(&st.compensation_path, &undone);
            for (i, s) in st.steps.iter().enumerate() {
                if !undone.contains(&i) {
                    prop_assert!(
                        matches!(s.status, StepStatus::Pending | StepStatus::Failed | StepStatus::TimedOut | StepStatus::Aborted),
                        "{}: {:?}", i, s.status
                    );
                    // A step that did something and can be undone was undone.
                    prop_assert!(i + 1 == n || matches!(s.status, StepStatus::Pending | StepStatus::Failed));
                }
            }
        } else {
            prop_assert_eq!(r.aborts, 0, "an aborted saga cannot complete");
            prop_assert!(st.steps.iter().all(|s| s.status == StepStatus::Completed));
        }
    }
}
