package hec

import (
	"strconv"
)

// Error is a HEC protocol answer other than plain success. Every refusal the server sends is
// one of these, written by writeError, so status, code and text never drift apart.
type Error struct {
	HTTPStatus int
	Code       int
	Text       string
	// InvalidEvent is the 0-based position of the first event that was not indexed, for
	// batch answers; events before it were committed.
	InvalidEvent *int
	// tooDeep marks a JSON nesting refusal: the whole request is refused, not only the events
	// from InvalidEvent on.
	tooDeep bool
}

func (e *Error) Error() string {
	s := "hec: " + e.Text + " (code " + strconv.Itoa(e.Code) + ")"
	if e.InvalidEvent != nil {
		s += " at event " + strconv.Itoa(*e.InvalidEvent)
	}
	return s
}

// HEC status codes (Splunk "Troubleshoot HTTP Event Collector", possible error codes).
const (
	CodeSuccess             = 0
	CodeTokenDisabled       = 1
	CodeTokenRequired       = 2
	CodeInvalidAuth         = 3
	CodeInvalidToken        = 4
	CodeNoData              = 5
	CodeInvalidDataFormat   = 6
	CodeIncorrectIndex      = 7
	CodeInternalError       = 8
	CodeServerBusy          = 9
	CodeChannelMissing      = 10
	CodeInvalidChannel      = 11
	CodeEventRequired       = 12
	CodeEventBlank          = 13
	CodeACKDisabled         = 14
	CodeIndexedFields       = 15
	CodeQueryStringAuth     = 16
	CodeHealthy             = 17
	CodeUnhealthyQueues     = 18
	CodeUnhealthyAck        = 19
	CodeUnhealthyQueuesAck  = 20
	CodeHealthInvalidToken  = 21
	CodeHealthTokenDisabled = 22
	CodeShuttingDown        = 23
)

// codeInfo mirrors Splunk's table of HEC status codes 0–23.
func codeInfo(code int) (status int, text string, ok bool) {
	switch code {
	case CodeSuccess:
		return 200, "Success", true
	case CodeTokenDisabled:
		return 403, "Token disabled", true
	case CodeTokenRequired:
		return 401, "Token is required", true
	case CodeInvalidAuth:
		return 401, "Invalid authorization", true
	case CodeInvalidToken:
		return 403, "Invalid token", true
	case CodeNoData:
		return 400, "No data", true
	case CodeInvalidDataFormat:
		return 400, "Invalid data format", true
	case CodeIncorrectIndex:
		return 400, "Incorrect index", true
	case CodeInternalError:
		return 500, "Internal server error", true
	case CodeServerBusy:
		return 503, "Server is busy", true
	case CodeChannelMissing:
		return 400, "Data channel is missing", true
	case CodeInvalidChannel:
		return 400, "Invalid data channel", true
	case CodeEventRequired:
		return 400, "Event field is required", true
	case CodeEventBlank:
		return 400, "Event field cannot be blank", true
	case CodeACKDisabled:
		return 400, "ACK is disabled", true
	case CodeIndexedFields:
		return 400, "Error in handling indexed fields", true
	case CodeQueryStringAuth:
		return 400, "Query string authorization is not enabled", true
	case CodeHealthy:
		return 200, "HEC is healthy", true
	case CodeUnhealthyQueues:
		return 503, "HEC is unhealthy, queues are full", true
	case CodeUnhealthyAck:
		return 503, "HEC is unhealthy, ack service unavailable", true
	case CodeUnhealthyQueuesAck:
		return 503, "HEC is unhealthy, queues are full, ack service unavailable", true
	case CodeHealthInvalidToken:
		return 400, "Invalid token", true
	case CodeHealthTokenDisabled:
		return 400, "Token disabled", true
	case CodeShuttingDown:
		return 503, "Server is shutting down", true
	}
	return 0, "", false
}

// NewError returns the Splunk answer for a HEC status code.
func NewError(code int) *Error {
	status, text, ok := codeInfo(code)
	if !ok {
		status, text, _ = codeInfo(CodeInternalError)
		code = CodeInternalError
	}
	return &Error{HTTPStatus: status, Code: code, Text: text}
}

// atEvent returns a copy of the error that names the first event that was not indexed.
func (e *Error) atEvent(i int) *Error {
	c := *e
	c.InvalidEvent = &i
	return &c
}

// httpError builds the answers Splunk gives outside its HEC code table (404, 405, 413, 415):
// there the "code" member repeats the HTTP status.
func httpError(status int, text string) *Error {
	return &Error{HTTPStatus: status, Code: status, Text: text}
}

// appendBody writes the compact JSON body in Splunk's key order: text, code, then extras.
func appendBody(b []byte, text string, code int, ackID *uint64, invalidEvent *int) []byte {
	b = append(b, `{"text":`...)
	b = appendJSONString(b, text)
	b = append(b, `,"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	if ackID != nil {
		b = append(b, `,"ackId":`...)
		b = strconv.AppendUint(b, *ackID, 10)
	}
	if invalidEvent != nil {
		b = append(b, `,"invalid-event-number":`...)
		b = strconv.AppendInt(b, int64(*invalidEvent), 10)
	}
	return append(b, '}')
}

// Body returns the JSON body of the error exactly as it goes on the wire.
func (e *Error) Body() []byte {
	return appendBody(nil, e.Text, e.Code, nil, e.InvalidEvent)
}

// appendJSONString quotes s as a JSON string (strconv quoting is Go syntax, not JSON).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
