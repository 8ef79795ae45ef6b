package dev.postmix.delta;

import io.delta.storage.HadoopFileSystemLogStore;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * Delta's log store for local file systems (file: paths), safe when several processes commit to one table.
 *
 * <p>Delta commits version N by writing N.json only if no one has: a put-if-absent. Delta's default store does it
 * with a Hadoop rename that, on a local file system, checks the target and then renames, so two processes writing
 * the same version in the same instant can both succeed, and the second silently replaces the first one's commit.
 * Here the commit file is written under a temporary name and then hard-linked to its final name: link(2) fails
 * atomically when the name exists (FileAlreadyExistsException, which Delta turns into a retry of the commit), and
 * a reader never sees a partly written file. Overwrites (Delta's _last_checkpoint) are an atomic rename. On a file
 * system without hard links it falls back to Delta's check-then-rename.
 *
 * <p>Reads and listings are Delta's own (HadoopFileSystemLogStore). postmix sets it as
 * spark.delta.logStore.file.impl when it supplies the Delta jars (docs/ARCHITECTURE.md, "Concurrent writers").
 */
public class LocalAtomicLogStore extends HadoopFileSystemLogStore {

    public LocalAtomicLogStore(Configuration hadoopConf) {
        super(hadoopConf);
    }

    @Override
    public void write(Path path, Iterator<String> actions, Boolean overwrite, Configuration hadoopConf)
            throws IOException {
        java.nio.file.Path target = localPath(path);
        java.nio.file.Path folder = target.getParent();
        Files.createDirectories(folder);
        java.nio.file.Path staged = Files.createTempFile(folder, "." + target.getFileName() + ".", ".tmp");
        try {
            try (OutputStream out = Files.newOutputStream(staged)) {
                while (actions.hasNext()) {
                    out.write((actions.next() + "\n").getBytes(StandardCharsets.UTF_8));
                }
            }
            if (overwrite) {
                Files.move(staged, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } else {
                publishIfAbsent(staged, target, path);
            }
        } finally {
            Files.deleteIfExists(staged);
        }
    }

    /** The staged file under the target's name, unless that name exists: atomic on every POSIX file system. */
    private static void publishIfAbsent(java.nio.file.Path staged, java.nio.file.Path target, Path path)
            throws IOException {
        try {
            Files.createLink(target, staged);
        } catch (FileAlreadyExistsException exists) {
            throw new FileAlreadyExistsException(path.toString());
        } catch (UnsupportedOperationException | FileSystemException noHardLinks) {
            // A file system without hard links: Delta's own check-then-rename (atomic within this process only).
            if (Files.exists(target)) {
                throw new FileAlreadyExistsException(path.toString());
            }
            Files.move(staged, target);
        }
    }

    /**
     * True, as for Delta's own local stores: it describes the file system, on which a file written in place is
     * visible while it is written, so Delta stages its checkpoints too (this store's own commits are staged always).
     */
    @Override
    public Boolean isPartialWriteVisible(Path path, Configuration hadoopConf) {
        return true;
    }

    private static java.nio.file.Path localPath(Path path) throws IOException {
        URI uri = path.toUri();
        if (uri.getScheme() == null) {
            return Paths.get(uri.getPath());
        }
        if (!"file".equals(uri.getScheme())) {
            throw new IOException("LocalAtomicLogStore handles file: paths only, got " + path);
        }
        return Paths.get(uri);
    }
}
