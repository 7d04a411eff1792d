//! Why a join was refused: the per-socket room limits of the rooms index.

/// Why a socket could not join a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The room name is longer than `max_room_name_len` bytes.
    #[error("room name too long ({len} bytes, at most {max})")]
    RoomNameTooLong {
        /// The name's length, in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The socket is already in `max_rooms_per_socket` rooms.
    #[error("too many rooms (at most {max})")]
    TooManyRooms {
        /// The limit.
        max: usize,
    },
}
