//! Where a transfer is in its life, on either side of the boundary. The states are stored by
//! name (`transfer.transfers.state`) and travel as `TransferState`.

use refroute_proto::v1::{self, TransferAnswer, TransferDirection, TransferKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Requested,
    Offered,
    Received,
    Accepted,
    Declined,
    Undeliverable,
    Acknowledged,
}

const ALL: [State; 7] = [
    State::Requested,
    State::Offered,
    State::Received,
    State::Accepted,
    State::Declined,
    State::Undeliverable,
    State::Acknowledged,
];

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Requested => "REQUESTED",
            State::Offered => "OFFERED",
            State::Received => "RECEIVED",
            State::Accepted => "ACCEPTED",
            State::Declined => "DECLINED",
            State::Undeliverable => "UNDELIVERABLE",
            State::Acknowledged => "ACKNOWLEDGED",
        }
    }

    pub fn parse(name: &str) -> Option<State> {
        ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub fn to_wire(self) -> v1::TransferState {
        match self {
            State::Requested => v1::TransferState::Requested,
            State::Offered => v1::TransferState::Offered,
            State::Received => v1::TransferState::Received,
            State::Accepted => v1::TransferState::Accepted,
            State::Declined => v1::TransferState::Declined,
            State::Undeliverable => v1::TransferState::Undeliverable,
            State::Acknowledged => v1::TransferState::Acknowledged,
        }
    }

    /// Nothing more happens to it on the sending side: the receiver answered, or it never
    /// arrived and the case is back with the sender.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            State::Accepted | State::Declined | State::Undeliverable | State::Acknowledged
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Outbound,
    Inbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "OUTBOUND",
            Direction::Inbound => "INBOUND",
        }
    }

    pub fn parse(name: &str) -> Option<Direction> {
        [Direction::Outbound, Direction::Inbound]
            .into_iter()
            .find(|d| d.as_str() == name)
    }

    pub fn to_wire(self) -> TransferDirection {
        match self {
            Direction::Outbound => TransferDirection::Outbound,
            Direction::Inbound => TransferDirection::Inbound,
        }
    }
}

/// A receiver's answer to a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    Declined,
}

impl Answer {
    pub fn from_wire(answer: i32) -> Option<Answer> {
        match TransferAnswer::try_from(answer) {
            Ok(TransferAnswer::Accepted) => Some(Answer::Accepted),
            Ok(TransferAnswer::Declined) => Some(Answer::Declined),
            _ => None,
        }
    }

    pub fn to_wire(self) -> TransferAnswer {
        match self {
            Answer::Accepted => TransferAnswer::Accepted,
            Answer::Declined => TransferAnswer::Declined,
        }
    }

    pub fn state(self) -> State {
        match self {
            Answer::Accepted => State::Accepted,
            Answer::Declined => State::Declined,
        }
    }

    /// The answer a stored state records, if it is one.
    pub fn of_state(state: State) -> Option<Answer> {
        match state {
            State::Accepted => Some(Answer::Accepted),
            State::Declined => Some(Answer::Declined),
            _ => None,
        }
    }
}

/// The panel a transfer's kind is for: the MARAC for MARAC-to-MARAC, the Channel panel (whose
/// coordinator follows Prevent cases) for a Prevent handover.
pub fn panel_of(kind: TransferKind) -> v1::Panel {
    match kind {
        TransferKind::PreventHandover => v1::Panel::Channel,
        _ => v1::Panel::Marac,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_by_name_and_only_answers_are_answers() {
        for state in ALL {
            assert_eq!(State::parse(state.as_str()), Some(state));
            assert_eq!(
                state.to_wire().as_str_name(),
                format!("TRANSFER_STATE_{}", state.as_str())
            );
            assert_eq!(
                Answer::of_state(state).map(Answer::state),
                Some(state).filter(|s| matches!(s, State::Accepted | State::Declined))
            );
        }
        assert_eq!(State::parse("LOST"), None);
        assert!(!State::Received.is_final() && !State::Offered.is_final());
        assert!(State::Undeliverable.is_final() && State::Acknowledged.is_final());
    }

    #[test]
    fn answers_from_the_wire() {
        assert_eq!(
            Answer::from_wire(TransferAnswer::Declined as i32),
            Some(Answer::Declined)
        );
        assert_eq!(Answer::from_wire(TransferAnswer::Unspecified as i32), None);
        assert_eq!(Answer::from_wire(7), None);
        assert_eq!(panel_of(TransferKind::PreventHandover), v1::Panel::Channel);
        assert_eq!(panel_of(TransferKind::MaracToMarac), v1::Panel::Marac);
    }
}
