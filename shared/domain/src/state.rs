//! The one state-machine rule every aggregate shares: a move to the current state is a no-op,
//! a move the table allows is a change, anything else is an error.

use std::fmt;

/// A status enum with a transition table.
pub trait StateMachine: Copy + Eq + fmt::Debug + fmt::Display {
    /// Whether the table allows `self -> next` (never asked for `self == next`).
    fn allows(self, next: Self) -> bool;
}

/// The result of asking for a transition that is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition<S> {
    /// The state changed from `from` to `to`.
    Changed {
        /// The state before.
        from: S,
        /// The state after.
        to: S,
    },
    /// The aggregate was already in the requested state (a repeated event).
    Unchanged(S),
}

impl<S> Transition<S> {
    /// Whether anything changed.
    #[must_use]
    pub fn is_change(&self) -> bool {
        matches!(self, Self::Changed { .. })
    }
}

/// A transition the table forbids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entity} cannot move from {from} to {to}")]
pub struct InvalidTransition {
    /// Which kind of aggregate ("order", "fulfillment", ...).
    pub entity: &'static str,
    /// Current state.
    pub from: String,
    /// Requested state.
    pub to: String,
}

/// Applies the shared rule to a status field.
///
/// # Errors
/// [`InvalidTransition`] when the table forbids the move.
pub fn transition<S: StateMachine>(
    entity: &'static str,
    state: &mut S,
    next: S,
) -> Result<Transition<S>, InvalidTransition> {
    let from = *state;
    if from == next {
        return Ok(Transition::Unchanged(from));
    }
    if !from.allows(next) {
        return Err(InvalidTransition {
            entity,
            from: from.to_string(),
            to: next.to_string(),
        });
    }
    *state = next;
    Ok(Transition::Changed { from, to: next })
}

/// Implements `Display`, `as_str` and `FromStr` for a snake_case status enum from one list.
macro_rules! status_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every state, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The wire and database name.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::state::UnknownState;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    other => Err($crate::state::UnknownState {
                        entity: stringify!($ty),
                        value: other.to_owned(),
                    }),
                }
            }
        }
    };
}
pub(crate) use status_names;

/// A stored or received state name that no variant has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {entity} value {value:?}")]
pub struct UnknownState {
    /// The enum.
    pub entity: &'static str,
    /// The text.
    pub value: String,
}
