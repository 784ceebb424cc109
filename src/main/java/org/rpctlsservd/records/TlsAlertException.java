package org.rpctlsservd.records;

/**
 * What the peer sent is refused: the connection ends, and {@link #description()} is the alert to
 * send it (RFC 8446 section 6) with {@link RecordLayer#sealAlert}. Nothing of the refused record
 * was handed on.
 */
public final class TlsAlertException extends Exception {
    private static final long serialVersionUID = 1L;

    public static final int CLOSE_NOTIFY = 0;
    public static final int UNEXPECTED_MESSAGE = 10;
    public static final int BAD_RECORD_MAC = 20;
    public static final int RECORD_OVERFLOW = 22;
    public static final int DECODE_ERROR = 50;
    public static final int ILLEGAL_PARAMETER = 47;
    public static final int INTERNAL_ERROR = 80;
    public static final int USER_CANCELED = 90;

    private final int description;

    public TlsAlertException(int description, String message) {
        super(name(description) + ": " + message);
        this.description = description;
    }

    TlsAlertException(int description, String message, Throwable cause) {
        super(name(description) + ": " + message, cause);
        this.description = description;
    }

    /** The alert's AlertDescription code. */
    public int description() {
        return description;
    }

    /** The RFC's name of an alert description, or its number. */
    public static String name(int description) {
        switch (description) {
            case CLOSE_NOTIFY: return "close_notify";
            case UNEXPECTED_MESSAGE: return "unexpected_message";
            case BAD_RECORD_MAC: return "bad_record_mac";
            case RECORD_OVERFLOW: return "record_overflow";
            case ILLEGAL_PARAMETER: return "illegal_parameter";
            case DECODE_ERROR: return "decode_error";
            case INTERNAL_ERROR: return "internal_error";
            case USER_CANCELED: return "user_canceled";
            default: return "alert " + description;
        }
    }
}
