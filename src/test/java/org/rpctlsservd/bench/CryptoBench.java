package org.rpctlsservd.bench;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.crypto.agreement.ECDHBasicAgreement;
import org.bouncycastle.crypto.agreement.X25519Agreement;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.engines.AESEngine;
import org.bouncycastle.crypto.generators.ECKeyPairGenerator;
import org.bouncycastle.crypto.generators.X25519KeyPairGenerator;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.modes.AEADCipher;
import org.bouncycastle.crypto.modes.ChaCha20Poly1305;
import org.bouncycastle.crypto.modes.GCMBlockCipher;
import org.bouncycastle.crypto.params.AEADParameters;
import org.bouncycastle.crypto.params.ECDomainParameters;
import org.bouncycastle.crypto.params.ECKeyGenerationParameters;
import org.bouncycastle.crypto.params.KeyParameter;
import org.bouncycastle.crypto.params.X25519KeyGenerationParameters;
import org.bouncycastle.crypto.signers.ECDSASigner;
import org.bouncycastle.crypto.signers.HMacDSAKCalculator;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.crypto.ec.CustomNamedCurves;

/**
 * tools/bench-crypto: each primitive a TLS 1.3 server uses, on Bouncy Castle's lightweight
 * implementation and on the JDK's providers (SunJCE, SunEC), side by side in one run, with the
 * ratio. This is the measurement behind the choice in {@code org.rpctlsservd.handshake.RecordCrypto}.
 * Run it on each JVM (JAVA_HOME=...). Not a test.
 */
public final class CryptoBench {
    private static final int RECORD = 16 * 1024;
    private static final SecureRandom RANDOM = new SecureRandom();

    private CryptoBench() {
    }

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 1.0;
        System.out.printf("java %s (%s), %d-byte records, %.1f s per measurement%n",
                System.getProperty("java.version"), System.getProperty("java.vm.name"), RECORD, seconds);
        System.out.printf("%-34s %14s %14s %8s%n", "primitive", "Bouncy Castle", "JDK", "JDK/BC");
        byte[] data = new byte[RECORD];
        byte[] out = new byte[RECORD + 16];
        RANDOM.nextBytes(data);
        for (int keyLen : new int[] {16, 32}) {
            byte[] key = random(keyLen);
            AEADCipher bc = GCMBlockCipher.newInstance(AESEngine.newInstance());
            Cipher jdk = Cipher.getInstance("AES/GCM/NoPadding");
            SecretKeySpec k = new SecretKeySpec(key, "AES");
            row("AES-" + keyLen * 8 + "-GCM seal, MB/s", seconds, true,
                    () -> sealBc(bc, key, data, out), () -> sealJdkGcm(jdk, k, data, out));
        }
        byte[] ckey = random(32);
        AEADCipher bcCha = new ChaCha20Poly1305();
        Cipher jdkCha = Cipher.getInstance("ChaCha20-Poly1305");
        SecretKeySpec ck = new SecretKeySpec(ckey, "ChaCha20");
        row("ChaCha20-Poly1305 seal, MB/s", seconds, true,
                () -> sealBc(bcCha, ckey, data, out), () -> sealJdkChaCha(jdkCha, ck, data, out));

        X25519KeyPairGenerator bcX = new X25519KeyPairGenerator();
        bcX.init(new X25519KeyGenerationParameters(RANDOM));
        AsymmetricCipherKeyPair peerX = bcX.generateKeyPair();
        KeyPairGenerator jdkXg = KeyPairGenerator.getInstance("X25519");
        KeyPair peerXj = jdkXg.generateKeyPair();
        row("X25519 keygen + agree, ops/s", seconds, false, () -> {
            AsymmetricCipherKeyPair mine = bcX.generateKeyPair();
            X25519Agreement a = new X25519Agreement();
            a.init(mine.getPrivate());
            a.calculateAgreement(peerX.getPublic(), new byte[32], 0);
        }, () -> {
            KeyPair mine = jdkXg.generateKeyPair();
            KeyAgreement a = KeyAgreement.getInstance("X25519");
            a.init(mine.getPrivate());
            a.doPhase(peerXj.getPublic(), true);
            a.generateSecret();
        });

        X9ECParameters p256 = CustomNamedCurves.getByName("secp256r1");
        ECDomainParameters dom = new ECDomainParameters(p256);
        ECKeyPairGenerator bcEc = new ECKeyPairGenerator();
        bcEc.init(new ECKeyGenerationParameters(dom, RANDOM));
        AsymmetricCipherKeyPair peerE = bcEc.generateKeyPair();
        KeyPairGenerator jdkEg = KeyPairGenerator.getInstance("EC");
        jdkEg.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair peerEj = jdkEg.generateKeyPair();
        row("P-256 ECDH keygen + agree, ops/s", seconds, false, () -> {
            AsymmetricCipherKeyPair mine = bcEc.generateKeyPair();
            ECDHBasicAgreement a = new ECDHBasicAgreement();
            a.init(mine.getPrivate());
            a.calculateAgreement(peerE.getPublic());
        }, () -> {
            KeyPair mine = jdkEg.generateKeyPair();
            KeyAgreement a = KeyAgreement.getInstance("ECDH");
            a.init(mine.getPrivate());
            a.doPhase(peerEj.getPublic(), true);
            a.generateSecret();
        });

        byte[] digest = random(32);
        ECDSASigner bcSig = new ECDSASigner(new HMacDSAKCalculator(new SHA256Digest()));
        bcSig.init(true, peerE.getPrivate());
        Signature jdkSig = Signature.getInstance("SHA256withECDSA");
        jdkSig.initSign(peerEj.getPrivate());
        row("ECDSA P-256 sign, ops/s", seconds, false, () -> bcSig.generateSignature(digest), () -> {
            jdkSig.update(digest);
            jdkSig.sign();
        });

        byte[] hkey = random(32);
        HMac bcMac = new HMac(new SHA256Digest());
        Mac jdkMac = Mac.getInstance("HmacSHA256");
        SecretKeySpec hk = new SecretKeySpec(hkey, "HmacSHA256");
        byte[] small = random(64);
        byte[] macOut = new byte[32];
        row("HMAC-SHA256 (HKDF step), ops/s", seconds, false, () -> {
            bcMac.init(new KeyParameter(hkey));
            bcMac.update(small, 0, small.length);
            bcMac.doFinal(macOut, 0);
        }, () -> {
            jdkMac.init(hk);
            jdkMac.update(small);
            jdkMac.doFinal();
        });
    }

    private interface Op {
        void run() throws Exception;
    }

    private static void row(String name, double seconds, boolean bytes, Op bc, Op jdk) throws Exception {
        double b = rate(bc, seconds);
        double j = rate(jdk, seconds);
        double scale = bytes ? RECORD / 1e6 : 1;
        System.out.printf("%-34s %14.1f %14.1f %8.2f%n", name, b * scale, j * scale, j / b);
    }

    /** Operations per second after a warm-up of the same length. */
    private static double rate(Op op, double seconds) throws Exception {
        for (int pass = 0; ; pass++) {
            long end = System.nanoTime() + (long) (seconds * 1e9);
            long n = 0;
            long t0 = System.nanoTime();
            while (System.nanoTime() < end) {
                op.run();
                n++;
            }
            if (pass == 1) {
                return n / ((System.nanoTime() - t0) / 1e9);
            }
        }
    }

    private static void sealBc(AEADCipher c, byte[] key, byte[] in, byte[] out) throws Exception {
        c.init(true, new AEADParameters(new KeyParameter(key), 128, random12(), null));
        int n = c.processBytes(in, 0, in.length, out, 0);
        c.doFinal(out, n);
    }

    private static void sealJdkGcm(Cipher c, SecretKeySpec k, byte[] in, byte[] out) throws Exception {
        c.init(Cipher.ENCRYPT_MODE, k, new GCMParameterSpec(128, random12()));
        c.doFinal(in, 0, in.length, out, 0);
    }

    private static void sealJdkChaCha(Cipher c, SecretKeySpec k, byte[] in, byte[] out) throws Exception {
        c.init(Cipher.ENCRYPT_MODE, k, new IvParameterSpec(random12()));
        c.doFinal(in, 0, in.length, out, 0);
    }

    private static final byte[] NONCE = new byte[12];
    private static long counter;

    /** A fresh nonce per record, as TLS's sequence number gives (the JDK refuses a reused GCM nonce). */
    private static byte[] random12() {
        counter++;
        for (int i = 0; i < 8; i++) {
            NONCE[11 - i] = (byte) (counter >>> (8 * i));
        }
        return NONCE.clone();
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }
}
