package org.rpctlsservd.certs;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.crypto.params.AsymmetricKeyParameter;
import org.bouncycastle.crypto.params.ECPrivateKeyParameters;
import org.bouncycastle.crypto.params.ECPublicKeyParameters;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.Ed25519PublicKeyParameters;
import org.bouncycastle.crypto.params.RSAKeyParameters;
import org.bouncycastle.crypto.params.RSAPrivateCrtKeyParameters;
import org.bouncycastle.crypto.util.PrivateKeyFactory;
import org.bouncycastle.crypto.util.PublicKeyFactory;
import org.bouncycastle.math.ec.FixedPointCombMultiplier;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The server's certificate chain and private key: {@code <certdir>cert.pem} and
 * {@code <certdir>certkey.pem}, checked to belong together. Immutable; a reload makes a new one.
 */
public final class ServerCredentials {
    public enum KeyType { RSA, EC, ED25519 }

    private final List<X509CertificateHolder> chain;
    /** The key in memory; null when it stays in a token ({@link #tokenKey}). */
    private final AsymmetricKeyParameter privateKey;
    /** A key in a PKCS#11 token, signing through its JCA provider; null for a key in memory. */
    private final TokenKey.Loaded tokenKey;
    private final KeyType keyType;
    /** For an EC key, its curve's size in bits, from the certificate; 0 otherwise. Parsed once, not per handshake. */
    private final int ecBits;
    private final String source;

    private ServerCredentials(List<X509CertificateHolder> chain, AsymmetricKeyParameter privateKey, TokenKey.Loaded tokenKey,
            KeyType keyType, String source) {
        this.chain = List.copyOf(chain);
        this.privateKey = privateKey;
        this.tokenKey = tokenKey;
        this.ecBits = keyType == KeyType.EC ? ecBitsOf(this.chain.get(0)) : 0;
        this.keyType = keyType;
        this.source = source;
    }

    public List<X509CertificateHolder> chain() {
        return chain;
    }

    public AsymmetricKeyParameter privateKey() {
        return privateKey;
    }

    /** The key in a token, or null. */
    public TokenKey.Loaded tokenKey() {
        return tokenKey;
    }

    /** Where the key comes from besides certdir's certkey.pem: a token, or a passphrase for an encrypted file. */
    public record KeySource(TokenKey token, Path passphraseFile) {
        public static final KeySource CERTDIR = new KeySource(null, null);
    }

    public KeyType keyType() {
        return keyType;
    }

    /** For an EC key, its curve's size in bits (256 for P-256), from the certificate; 0 otherwise. */
    public int ecBits() {
        return ecBits;
    }

    private static int ecBitsOf(X509CertificateHolder cert) {
        try {
            return ((ECPublicKeyParameters) PublicKeyFactory.createKey(cert.getSubjectPublicKeyInfo())).getParameters()
                    .getCurve().getFieldSize();
        } catch (IOException | RuntimeException e) {
            return 256;
        }
    }

    public String source() {
        return source;
    }

    /**
     * The files under {@code certDir}: a directory with or without its trailing slash (the C daemon
     * glued the names on as a raw prefix, so "/x" meant "/xcert.pem").
     */
    public static Path certFile(String certDir) {
        return Path.of(certDir.isEmpty() ? "." : certDir).resolve("cert.pem");
    }

    public static Path keyFile(String certDir) {
        return Path.of(certDir.isEmpty() ? "." : certDir).resolve("certkey.pem");
    }

    /** Loads and checks the pair; the exception's message says what is wrong. */
    public static ServerCredentials load(String certDir) throws IOException {
        return load(certDir, KeySource.CERTDIR);
    }

    /** The option that names certdir's files, in messages. */
    public static final String CERTDIR_OPTION = "--certdir";

    /** Said after "missing" when certdir lacks the pair: what to do. */
    static final String INSTALL_HINT = "make or install the server certificate (see rpc.tlsservd.conf(5))";

    /**
     * Loads and checks the pair, the key from {@code keys}; a {@link FileProblem} names the file,
     * the option and what is wrong with it.
     */
    public static ServerCredentials load(String certDir, KeySource keys) throws IOException {
        Path cert = certFile(certDir);
        Path key = keyFile(certDir);
        boolean noKeyFile = keys.token() == null && !Files.exists(key) && !Files.isSymbolicLink(key);
        if (!Files.exists(cert) && !Files.isSymbolicLink(cert) && noKeyFile && Files.isReadable(cert.getParent() == null ? Path.of(".") : cert.getParent())) {
            // Neither is there: one line for both, with what to do.
            throw new FileProblem(cert, CERTDIR_OPTION, "missing, and so is " + key.getFileName() + "; " + INSTALL_HINT);
        }
        return fromFiles(cert, key, keys, INSTALL_HINT);
    }

    /**
     * rpc.tlsclntd's per-mount client certificate (-m with a certname): {@code <certName>.pem} and
     * {@code <certName>key.pem} under {@code certDir}. A name that would leave the directory is refused.
     */
    public static ServerCredentials loadNamed(String certDir, String certName) throws IOException {
        if (certName.isEmpty() || certName.contains("/") || certName.contains("\0") || certName.startsWith(".")) {
            throw new IOException("certificate name \"" + certName.replace("\0", "\\0")
                    + "\" refused: a name of files in " + CERTDIR_OPTION + ", without '/' and not starting with '.'");
        }
        Path dir = Path.of(certDir.isEmpty() ? "." : certDir);
        return fromFiles(dir.resolve(certName + ".pem"), dir.resolve(certName + "key.pem"), KeySource.CERTDIR,
                "install the certificate named " + certName + " and its key (" + certName + ".pem, " + certName + "key.pem)");
    }

    /** The chain in {@code cert} and its key from {@code key} or {@code keys}; {@code hint} follows "missing" for the certificate. */
    private static ServerCredentials fromFiles(Path cert, Path key, KeySource keys, String hint) throws IOException {
        List<X509CertificateHolder> chain;
        try {
            chain = Pem.certificates(cert, CERTDIR_OPTION);
        } catch (FileProblem e) {
            throw e.reason().equals("missing") ? e.with(hint) : e;
        }
        if (keys.token() != null) {
            return ofToken(chain, keys.token().load(), cert + ", " + keys.token().redacted());
        }
        PrivateKeyInfo pki;
        try {
            if (keys.passphraseFile() != null) {
                char[] pass = passphrase(keys.passphraseFile());
                try {
                    pki = Pem.privateKey(key, CERTDIR_OPTION, pass);
                } finally {
                    java.util.Arrays.fill(pass, '\0');
                }
            } else {
                pki = Pem.privateKey(key, CERTDIR_OPTION);
            }
        } catch (FileProblem e) {
            throw e.reason().equals("missing") && key.equals(e.file()) ? e.with("install the private key of " + cert) : e;
        }
        try {
            return of(chain, pki, cert + ", " + key, "the certificate in " + cert);
        } catch (IOException e) {
            throw new FileProblem(key, CERTDIR_OPTION, e.getMessage(), e);
        }
    }

    /** The first line of the passphrase file. */
    private static char[] passphrase(Path file) throws IOException {
        String s = new String(FileProblem.read(file, "--key-passphrase-file"), java.nio.charset.StandardCharsets.UTF_8);
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).replace("\r", "").toCharArray();
    }

    /**
     * A chain with its key in a token: they belong together when the token's signature over a
     * test message verifies with the certificate's public key (the private key cannot be read).
     */
    static ServerCredentials ofToken(List<X509CertificateHolder> chain, TokenKey.Loaded key, String source) throws IOException {
        java.security.PublicKey pub;
        try {
            pub = new org.bouncycastle.cert.jcajce.JcaX509CertificateConverter().getCertificate(chain.get(0)).getPublicKey();
        } catch (java.security.cert.CertificateException e) {
            throw new IOException("cannot read the certificate's public key: " + e.getMessage(), e);
        }
        KeyType type;
        String alg;
        switch (pub.getAlgorithm()) {
            case "EC":
                type = KeyType.EC;
                alg = "SHA256withECDSA";
                break;
            case "RSA":
                type = KeyType.RSA;
                alg = "SHA256withRSA";
                break;
            default:
                throw new IOException("a token key must be EC or RSA, the certificate's is " + pub.getAlgorithm());
        }
        byte[] probe = "rpc-tlsservd key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        try {
            java.security.Signature s = java.security.Signature.getInstance(alg, key.provider());
            s.initSign(key.key());
            s.update(probe);
            byte[] sig = s.sign();
            java.security.Signature v = java.security.Signature.getInstance(alg);
            v.initVerify(pub);
            v.update(probe);
            if (!v.verify(sig)) {
                throw new IOException("the private key does not match the certificate " + Dn.oneline(chain.get(0).getSubject()));
            }
        } catch (java.security.GeneralSecurityException | java.security.ProviderException e) {
            throw new IOException("the token's key cannot sign for the certificate " + Dn.oneline(chain.get(0).getSubject()) + ": "
                    + e.getMessage(), e);
        }
        return new ServerCredentials(chain, null, key, type, source);
    }

    /** A pair from memory; fails when the key does not match the first certificate. */
    public static ServerCredentials of(List<X509CertificateHolder> chain, PrivateKeyInfo pki, String source) throws IOException {
        return of(chain, pki, source, "the certificate");
    }

    /** {@code certName}: how the messages name the certificate ("the certificate in /etc/rpc.tlsservd/cert.pem"). */
    private static ServerCredentials of(List<X509CertificateHolder> chain, PrivateKeyInfo pki, String source, String certName)
            throws IOException {
        AsymmetricKeyParameter priv;
        AsymmetricKeyParameter pub;
        try {
            priv = PrivateKeyFactory.createKey(pki);
        } catch (IOException | RuntimeException e) {
            throw new IOException("cannot read the private key (" + e.getMessage() + ")", e);
        }
        try {
            pub = PublicKeyFactory.createKey(chain.get(0).getSubjectPublicKeyInfo());
        } catch (IOException | RuntimeException e) {
            throw new IOException("cannot read the public key of " + certName + " (" + e.getMessage() + ")", e);
        }
        KeyType type;
        boolean matches;
        if (priv instanceof RSAPrivateCrtKeyParameters && pub instanceof RSAKeyParameters) {
            RSAPrivateCrtKeyParameters k = (RSAPrivateCrtKeyParameters) priv;
            RSAKeyParameters p = (RSAKeyParameters) pub;
            type = KeyType.RSA;
            matches = k.getModulus().equals(p.getModulus()) && k.getPublicExponent().equals(p.getExponent());
        } else if (priv instanceof ECPrivateKeyParameters && pub instanceof ECPublicKeyParameters) {
            ECPrivateKeyParameters k = (ECPrivateKeyParameters) priv;
            ECPublicKeyParameters p = (ECPublicKeyParameters) pub;
            type = KeyType.EC;
            matches = new FixedPointCombMultiplier().multiply(k.getParameters().getG(), k.getD()).normalize()
                    .equals(p.getQ().normalize());
        } else if (priv instanceof Ed25519PrivateKeyParameters && pub instanceof Ed25519PublicKeyParameters) {
            type = KeyType.ED25519;
            matches = java.util.Arrays.equals(((Ed25519PrivateKeyParameters) priv).generatePublicKey().getEncoded(),
                    ((Ed25519PublicKeyParameters) pub).getEncoded());
        } else {
            throw new IOException("the private key (" + priv.getClass().getSimpleName()
                    + ") is not of the key type of " + certName + ", or of an unsupported type");
        }
        if (!matches) {
            throw new IOException("the private key does not match " + certName + " (" + Dn.oneline(chain.get(0).getSubject()) + ")");
        }
        return new ServerCredentials(chain, priv, null, type, source);
    }

    /**
     * notBefore and notAfter as the JDK reads them: Bouncy Castle's getNotAfter goes through
     * SimpleDateFormat, whose locale data costs every start about 40 ms. Its reading when the JDK's
     * parser refuses the certificate. {@code [notBefore, notAfter]}.
     */
    public static Instant[] validity(X509CertificateHolder c) {
        try {
            java.security.cert.X509Certificate x = (java.security.cert.X509Certificate) java.security.cert.CertificateFactory
                    .getInstance("X.509").generateCertificate(new java.io.ByteArrayInputStream(c.getEncoded()));
            return new Instant[] {x.getNotBefore().toInstant(), x.getNotAfter().toInstant()};
        } catch (java.security.cert.CertificateException | java.io.IOException | ClassCastException e) {
            return new Instant[] {c.getNotBefore().toInstant(), c.getNotAfter().toInstant()};
        }
    }

    /** A throwaway self-signed ECDSA P-256 certificate for {@code hostname}, valid for a year. */
    public static ServerCredentials throwaway(String hostname) throws IOException {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair kp = g.generateKeyPair();
            X500Name name = new X500Name("CN=" + hostname.replaceAll("[,+=\"\\\\<>;]", "_"));
            Instant now = Instant.now();
            JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name,
                    new BigInteger(64, new java.security.SecureRandom()).abs().add(BigInteger.ONE),
                    Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(Duration.ofDays(365))), name, kp.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.subjectAlternativeName, false,
                    new GeneralNames(new GeneralName(GeneralName.dNSName, hostname)));
            X509CertificateHolder cert = b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()));
            return of(List.of(cert), PrivateKeyInfo.getInstance(kp.getPrivate().getEncoded()), "throwaway certificate for " + hostname);
        } catch (java.security.GeneralSecurityException | OperatorCreationException e) {
            throw new IOException("cannot make a throwaway certificate: " + e.getMessage(), e);
        }
    }
}
