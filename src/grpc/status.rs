//! Request errors as gRPC statuses with `google.rpc.BadRequest` details.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::domain::Violation;

/// `INVALID_ARGUMENT` carrying a `google.rpc.BadRequest` with one field violation per problem.
/// The message names the first field, so a plain client sees it too.
pub fn invalid_argument(violations: Vec<Violation>) -> Status {
    let message = match violations.as_slice() {
        [] => "invalid request".to_owned(),
        [only] => format!("invalid request: {} {}", only.field, only.description),
        [first, rest @ ..] => format!(
            "invalid request: {} {} (and {} more)",
            first.field,
            first.description,
            rest.len()
        ),
    };
    let details = ErrorDetails::with_bad_request(
        violations
            .into_iter()
            .map(|v| FieldViolation::new(v.field, v.description))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::InvalidArgument, message, details)
}
