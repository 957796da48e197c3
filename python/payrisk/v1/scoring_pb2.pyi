import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContactOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTACT_OUTCOME_UNSPECIFIED: _ClassVar[ContactOutcome]
    CONTACT_OUTCOME_NO_ANSWER: _ClassVar[ContactOutcome]
    CONTACT_OUTCOME_LEFT_MESSAGE: _ClassVar[ContactOutcome]
    CONTACT_OUTCOME_CONVERSATION: _ClassVar[ContactOutcome]
    CONTACT_OUTCOME_WRONG_PARTY: _ClassVar[ContactOutcome]
    CONTACT_OUTCOME_DELIVERED: _ClassVar[ContactOutcome]
    CONTACT_OUTCOME_FAILED: _ClassVar[ContactOutcome]

class PromiseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROMISE_STATUS_UNSPECIFIED: _ClassVar[PromiseStatus]
    PROMISE_STATUS_PENDING: _ClassVar[PromiseStatus]
    PROMISE_STATUS_KEPT: _ClassVar[PromiseStatus]
    PROMISE_STATUS_BROKEN: _ClassVar[PromiseStatus]

class Treatment(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TREATMENT_UNSPECIFIED: _ClassVar[Treatment]
    TREATMENT_SOFT: _ClassVar[Treatment]
    TREATMENT_FIRM: _ClassVar[Treatment]
CONTACT_OUTCOME_UNSPECIFIED: ContactOutcome
CONTACT_OUTCOME_NO_ANSWER: ContactOutcome
CONTACT_OUTCOME_LEFT_MESSAGE: ContactOutcome
CONTACT_OUTCOME_CONVERSATION: ContactOutcome
CONTACT_OUTCOME_WRONG_PARTY: ContactOutcome
CONTACT_OUTCOME_DELIVERED: ContactOutcome
CONTACT_OUTCOME_FAILED: ContactOutcome
PROMISE_STATUS_UNSPECIFIED: PromiseStatus
PROMISE_STATUS_PENDING: PromiseStatus
PROMISE_STATUS_KEPT: PromiseStatus
PROMISE_STATUS_BROKEN: PromiseStatus
TREATMENT_UNSPECIFIED: Treatment
TREATMENT_SOFT: Treatment
TREATMENT_FIRM: Treatment

class ReloadRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDriftRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DriftReport(_message.Message):
    __slots__ = ("model_name", "model_version", "window_accounts", "window_size", "baseline_rows", "watch_threshold", "act_threshold", "score", "features", "min_accounts")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    WINDOW_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SIZE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_ROWS_FIELD_NUMBER: _ClassVar[int]
    WATCH_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ACT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    MIN_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    model_version: str
    window_accounts: int
    window_size: int
    baseline_rows: int
    watch_threshold: float
    act_threshold: float
    score: FeatureDrift
    features: _containers.RepeatedCompositeFieldContainer[FeatureDrift]
    min_accounts: int
    def __init__(self, model_name: _Optional[str] = ..., model_version: _Optional[str] = ..., window_accounts: _Optional[int] = ..., window_size: _Optional[int] = ..., baseline_rows: _Optional[int] = ..., watch_threshold: _Optional[float] = ..., act_threshold: _Optional[float] = ..., score: _Optional[_Union[FeatureDrift, _Mapping]] = ..., features: _Optional[_Iterable[_Union[FeatureDrift, _Mapping]]] = ..., min_accounts: _Optional[int] = ...) -> None: ...

class FeatureDrift(_message.Message):
    __slots__ = ("name", "psi", "status")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PSI_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    name: str
    psi: float
    status: str
    def __init__(self, name: _Optional[str] = ..., psi: _Optional[float] = ..., status: _Optional[str] = ...) -> None: ...

class Date(_message.Message):
    __slots__ = ("year", "month", "day")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    year: int
    month: int
    day: int
    def __init__(self, year: _Optional[int] = ..., month: _Optional[int] = ..., day: _Optional[int] = ...) -> None: ...

class CreditProfile(_message.Message):
    __slots__ = ("credit_limit", "current_balance", "months_on_book", "open_credit_lines", "prior_delinquencies", "bureau_score", "annual_income", "hardship", "credit_limit_unknown", "current_balance_unknown", "months_on_book_unknown", "hardship_unknown")
    CREDIT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_BALANCE_FIELD_NUMBER: _ClassVar[int]
    MONTHS_ON_BOOK_FIELD_NUMBER: _ClassVar[int]
    OPEN_CREDIT_LINES_FIELD_NUMBER: _ClassVar[int]
    PRIOR_DELINQUENCIES_FIELD_NUMBER: _ClassVar[int]
    BUREAU_SCORE_FIELD_NUMBER: _ClassVar[int]
    ANNUAL_INCOME_FIELD_NUMBER: _ClassVar[int]
    HARDSHIP_FIELD_NUMBER: _ClassVar[int]
    CREDIT_LIMIT_UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    CURRENT_BALANCE_UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    MONTHS_ON_BOOK_UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    HARDSHIP_UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    credit_limit: float
    current_balance: float
    months_on_book: int
    open_credit_lines: int
    prior_delinquencies: int
    bureau_score: float
    annual_income: float
    hardship: bool
    credit_limit_unknown: bool
    current_balance_unknown: bool
    months_on_book_unknown: bool
    hardship_unknown: bool
    def __init__(self, credit_limit: _Optional[float] = ..., current_balance: _Optional[float] = ..., months_on_book: _Optional[int] = ..., open_credit_lines: _Optional[int] = ..., prior_delinquencies: _Optional[int] = ..., bureau_score: _Optional[float] = ..., annual_income: _Optional[float] = ..., hardship: bool = ..., credit_limit_unknown: bool = ..., current_balance_unknown: bool = ..., months_on_book_unknown: bool = ..., hardship_unknown: bool = ...) -> None: ...

class PaymentCycle(_message.Message):
    __slots__ = ("statement_date", "amount_due", "minimum_due", "amount_paid", "days_past_due")
    STATEMENT_DATE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_DUE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_PAID_FIELD_NUMBER: _ClassVar[int]
    DAYS_PAST_DUE_FIELD_NUMBER: _ClassVar[int]
    statement_date: Date
    amount_due: float
    minimum_due: float
    amount_paid: float
    days_past_due: int
    def __init__(self, statement_date: _Optional[_Union[Date, _Mapping]] = ..., amount_due: _Optional[float] = ..., minimum_due: _Optional[float] = ..., amount_paid: _Optional[float] = ..., days_past_due: _Optional[int] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("account_id", "as_of", "profile", "history", "attributes", "contacts", "promises", "compliance")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    PROMISES_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    as_of: Date
    profile: CreditProfile
    history: _containers.RepeatedCompositeFieldContainer[PaymentCycle]
    attributes: _containers.ScalarMap[str, float]
    contacts: _containers.RepeatedCompositeFieldContainer[ContactAttempt]
    promises: _containers.RepeatedCompositeFieldContainer[PromiseToPay]
    compliance: Compliance
    def __init__(self, account_id: _Optional[str] = ..., as_of: _Optional[_Union[Date, _Mapping]] = ..., profile: _Optional[_Union[CreditProfile, _Mapping]] = ..., history: _Optional[_Iterable[_Union[PaymentCycle, _Mapping]]] = ..., attributes: _Optional[_Mapping[str, float]] = ..., contacts: _Optional[_Iterable[_Union[ContactAttempt, _Mapping]]] = ..., promises: _Optional[_Iterable[_Union[PromiseToPay, _Mapping]]] = ..., compliance: _Optional[_Union[Compliance, _Mapping]] = ...) -> None: ...

class Compliance(_message.Message):
    __slots__ = ("cease_communication", "dispute_pending", "bankruptcy", "attorney_represented", "deceased", "opted_out_channels", "time_zone")
    CEASE_COMMUNICATION_FIELD_NUMBER: _ClassVar[int]
    DISPUTE_PENDING_FIELD_NUMBER: _ClassVar[int]
    BANKRUPTCY_FIELD_NUMBER: _ClassVar[int]
    ATTORNEY_REPRESENTED_FIELD_NUMBER: _ClassVar[int]
    DECEASED_FIELD_NUMBER: _ClassVar[int]
    OPTED_OUT_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    cease_communication: bool
    dispute_pending: bool
    bankruptcy: bool
    attorney_represented: bool
    deceased: bool
    opted_out_channels: _containers.RepeatedScalarFieldContainer[str]
    time_zone: str
    def __init__(self, cease_communication: bool = ..., dispute_pending: bool = ..., bankruptcy: bool = ..., attorney_represented: bool = ..., deceased: bool = ..., opted_out_channels: _Optional[_Iterable[str]] = ..., time_zone: _Optional[str] = ...) -> None: ...

class ContactAttempt(_message.Message):
    __slots__ = ("at", "channel", "outcome")
    AT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    channel: str
    outcome: ContactOutcome
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., channel: _Optional[str] = ..., outcome: _Optional[_Union[ContactOutcome, str]] = ...) -> None: ...

class PromiseToPay(_message.Message):
    __slots__ = ("promised_on", "due", "amount", "status")
    PROMISED_ON_FIELD_NUMBER: _ClassVar[int]
    DUE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    promised_on: Date
    due: Date
    amount: float
    status: PromiseStatus
    def __init__(self, promised_on: _Optional[_Union[Date, _Mapping]] = ..., due: _Optional[_Union[Date, _Mapping]] = ..., amount: _Optional[float] = ..., status: _Optional[_Union[PromiseStatus, str]] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("account", "max_reasons", "decision_time")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_REASONS_FIELD_NUMBER: _ClassVar[int]
    DECISION_TIME_FIELD_NUMBER: _ClassVar[int]
    account: Account
    max_reasons: int
    decision_time: _timestamp_pb2.Timestamp
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ..., max_reasons: _Optional[int] = ..., decision_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class NextAction(_message.Message):
    __slots__ = ("action", "channel", "stage", "rationale", "guard")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    GUARD_FIELD_NUMBER: _ClassVar[int]
    action: str
    channel: str
    stage: str
    rationale: str
    guard: ContactGuard
    def __init__(self, action: _Optional[str] = ..., channel: _Optional[str] = ..., stage: _Optional[str] = ..., rationale: _Optional[str] = ..., guard: _Optional[_Union[ContactGuard, _Mapping]] = ...) -> None: ...

class ContactGuard(_message.Message):
    __slots__ = ("blocked_action", "blocked_channel", "rule", "reason", "next_permitted_time")
    BLOCKED_ACTION_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NEXT_PERMITTED_TIME_FIELD_NUMBER: _ClassVar[int]
    blocked_action: str
    blocked_channel: str
    rule: str
    reason: str
    next_permitted_time: _timestamp_pb2.Timestamp
    def __init__(self, blocked_action: _Optional[str] = ..., blocked_channel: _Optional[str] = ..., rule: _Optional[str] = ..., reason: _Optional[str] = ..., next_permitted_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ShadowDecision(_message.Message):
    __slots__ = ("repayment_probability", "risk_band", "treatment", "next_action", "priority", "model_version", "policy_version")
    REPAYMENT_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    RISK_BAND_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ACTION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    repayment_probability: float
    risk_band: str
    treatment: Treatment
    next_action: NextAction
    priority: float
    model_version: str
    policy_version: str
    def __init__(self, repayment_probability: _Optional[float] = ..., risk_band: _Optional[str] = ..., treatment: _Optional[_Union[Treatment, str]] = ..., next_action: _Optional[_Union[NextAction, _Mapping]] = ..., priority: _Optional[float] = ..., model_version: _Optional[str] = ..., policy_version: _Optional[str] = ...) -> None: ...

class ReasonCode(_message.Message):
    __slots__ = ("code", "contribution", "value", "text")
    CODE_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    code: str
    contribution: float
    value: float
    text: str
    def __init__(self, code: _Optional[str] = ..., contribution: _Optional[float] = ..., value: _Optional[float] = ..., text: _Optional[str] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("account_id", "repayment_probability", "score", "risk_band", "treatment", "next_action", "priority", "reasons", "model_name", "model_version", "policy_version", "arm", "shadow", "decision_id", "treatment_options", "best_treatment", "uplift_reasons")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    REPAYMENT_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RISK_BAND_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ACTION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    BEST_TREATMENT_FIELD_NUMBER: _ClassVar[int]
    UPLIFT_REASONS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    repayment_probability: float
    score: float
    risk_band: str
    treatment: Treatment
    next_action: NextAction
    priority: float
    reasons: _containers.RepeatedCompositeFieldContainer[ReasonCode]
    model_name: str
    model_version: str
    policy_version: str
    arm: str
    shadow: ShadowDecision
    decision_id: str
    treatment_options: _containers.RepeatedCompositeFieldContainer[TreatmentOption]
    best_treatment: str
    uplift_reasons: _containers.RepeatedCompositeFieldContainer[ReasonCode]
    def __init__(self, account_id: _Optional[str] = ..., repayment_probability: _Optional[float] = ..., score: _Optional[float] = ..., risk_band: _Optional[str] = ..., treatment: _Optional[_Union[Treatment, str]] = ..., next_action: _Optional[_Union[NextAction, _Mapping]] = ..., priority: _Optional[float] = ..., reasons: _Optional[_Iterable[_Union[ReasonCode, _Mapping]]] = ..., model_name: _Optional[str] = ..., model_version: _Optional[str] = ..., policy_version: _Optional[str] = ..., arm: _Optional[str] = ..., shadow: _Optional[_Union[ShadowDecision, _Mapping]] = ..., decision_id: _Optional[str] = ..., treatment_options: _Optional[_Iterable[_Union[TreatmentOption, _Mapping]]] = ..., best_treatment: _Optional[str] = ..., uplift_reasons: _Optional[_Iterable[_Union[ReasonCode, _Mapping]]] = ...) -> None: ...

class TreatmentOption(_message.Message):
    __slots__ = ("name", "repayment_probability", "expected_net_recovery", "cost")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REPAYMENT_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_NET_RECOVERY_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    name: str
    repayment_probability: float
    expected_net_recovery: float
    cost: float
    def __init__(self, name: _Optional[str] = ..., repayment_probability: _Optional[float] = ..., expected_net_recovery: _Optional[float] = ..., cost: _Optional[float] = ...) -> None: ...

class ScoreBatchRequest(_message.Message):
    __slots__ = ("accounts", "max_reasons", "batch_id", "decision_time")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    MAX_REASONS_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_TIME_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    max_reasons: int
    batch_id: int
    decision_time: _timestamp_pb2.Timestamp
    def __init__(self, accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ..., max_reasons: _Optional[int] = ..., batch_id: _Optional[int] = ..., decision_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FieldViolation(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class AccountError(_message.Message):
    __slots__ = ("violations",)
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    violations: _containers.RepeatedCompositeFieldContainer[FieldViolation]
    def __init__(self, violations: _Optional[_Iterable[_Union[FieldViolation, _Mapping]]] = ...) -> None: ...

class ScoreResult(_message.Message):
    __slots__ = ("index", "account_id", "score", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    account_id: str
    score: ScoreResponse
    error: AccountError
    def __init__(self, index: _Optional[int] = ..., account_id: _Optional[str] = ..., score: _Optional[_Union[ScoreResponse, _Mapping]] = ..., error: _Optional[_Union[AccountError, _Mapping]] = ...) -> None: ...

class ScoreBatchResponse(_message.Message):
    __slots__ = ("results", "batch_id")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ScoreResult]
    batch_id: int
    def __init__(self, results: _Optional[_Iterable[_Union[ScoreResult, _Mapping]]] = ..., batch_id: _Optional[int] = ...) -> None: ...

class GetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Feature(_message.Message):
    __slots__ = ("name", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class EvaluationMetrics(_message.Message):
    __slots__ = ("rows", "repayment_rate", "auc", "gini", "ks", "brier", "log_loss", "ece")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    REPAYMENT_RATE_FIELD_NUMBER: _ClassVar[int]
    AUC_FIELD_NUMBER: _ClassVar[int]
    GINI_FIELD_NUMBER: _ClassVar[int]
    KS_FIELD_NUMBER: _ClassVar[int]
    BRIER_FIELD_NUMBER: _ClassVar[int]
    LOG_LOSS_FIELD_NUMBER: _ClassVar[int]
    ECE_FIELD_NUMBER: _ClassVar[int]
    rows: int
    repayment_rate: float
    auc: float
    gini: float
    ks: float
    brier: float
    log_loss: float
    ece: float
    def __init__(self, rows: _Optional[int] = ..., repayment_rate: _Optional[float] = ..., auc: _Optional[float] = ..., gini: _Optional[float] = ..., ks: _Optional[float] = ..., brier: _Optional[float] = ..., log_loss: _Optional[float] = ..., ece: _Optional[float] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "version", "kind", "features", "train_metrics", "test_metrics", "created_at", "training_data_fingerprint", "split", "policy_name", "policy_version", "artifact_schema_version", "arms", "reload")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    TRAIN_METRICS_FIELD_NUMBER: _ClassVar[int]
    TEST_METRICS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    TRAINING_DATA_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    RELOAD_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    kind: str
    features: _containers.RepeatedCompositeFieldContainer[Feature]
    train_metrics: EvaluationMetrics
    test_metrics: EvaluationMetrics
    created_at: str
    training_data_fingerprint: str
    split: str
    policy_name: str
    policy_version: str
    artifact_schema_version: int
    arms: _containers.RepeatedCompositeFieldContainer[ArmInfo]
    reload: ReloadStatus
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., kind: _Optional[str] = ..., features: _Optional[_Iterable[_Union[Feature, _Mapping]]] = ..., train_metrics: _Optional[_Union[EvaluationMetrics, _Mapping]] = ..., test_metrics: _Optional[_Union[EvaluationMetrics, _Mapping]] = ..., created_at: _Optional[str] = ..., training_data_fingerprint: _Optional[str] = ..., split: _Optional[str] = ..., policy_name: _Optional[str] = ..., policy_version: _Optional[str] = ..., artifact_schema_version: _Optional[int] = ..., arms: _Optional[_Iterable[_Union[ArmInfo, _Mapping]]] = ..., reload: _Optional[_Union[ReloadStatus, _Mapping]] = ...) -> None: ...

class ReloadStatus(_message.Message):
    __slots__ = ("model_path", "policy_path", "loaded_at", "reloads", "failed_reloads", "last_attempt_at", "last_error")
    MODEL_PATH_FIELD_NUMBER: _ClassVar[int]
    POLICY_PATH_FIELD_NUMBER: _ClassVar[int]
    LOADED_AT_FIELD_NUMBER: _ClassVar[int]
    RELOADS_FIELD_NUMBER: _ClassVar[int]
    FAILED_RELOADS_FIELD_NUMBER: _ClassVar[int]
    LAST_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    model_path: str
    policy_path: str
    loaded_at: _timestamp_pb2.Timestamp
    reloads: int
    failed_reloads: int
    last_attempt_at: _timestamp_pb2.Timestamp
    last_error: str
    def __init__(self, model_path: _Optional[str] = ..., policy_path: _Optional[str] = ..., loaded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reloads: _Optional[int] = ..., failed_reloads: _Optional[int] = ..., last_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ...) -> None: ...

class ArmInfo(_message.Message):
    __slots__ = ("arm", "share", "mode", "model_name", "model_version", "policy_version", "decisions")
    ARM_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    arm: str
    share: float
    mode: str
    model_name: str
    model_version: str
    policy_version: str
    decisions: int
    def __init__(self, arm: _Optional[str] = ..., share: _Optional[float] = ..., mode: _Optional[str] = ..., model_name: _Optional[str] = ..., model_version: _Optional[str] = ..., policy_version: _Optional[str] = ..., decisions: _Optional[int] = ...) -> None: ...
