// command:remote:CopyToRemote for a path-based FileAsset, as command 1.2.1 does it
// (provider/pkg/provider/remote/copy.go, copyController.go): dial, open an SFTP client, copy the file
// to remotePath, or into it when remotePath is an existing directory. The file is created with the
// server's default mode (sftp.Create sends no attributes), nothing is ever deleted. Directories and
// archives (FileArchive) are not implemented by this stand-in and fail at check time.
import * as fs from "node:fs";
import * as path from "node:path";
import type { SFTPWrapper, Stats } from "ssh2";
import type { Logger } from "../common/engineLog";
import { Connection, dial } from "./remote";
import { running } from "./run";

function sftpOf(client: import("ssh2").Client): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

/** remoteStat: undefined when the path does not exist, as the real one normalises os.ErrNotExist. */
function remoteStat(sftp: SFTPWrapper, p: string): Promise<Stats | undefined> {
    return new Promise((resolve, reject) => sftp.stat(p, (err, st) => {
        if (!err) resolve(st);
        else if ((err as Error & { code?: number }).code === 2) resolve(undefined);
        else reject(new Error(`failed to stat remote path ${p}: ${err.message}`));
    }));
}

export async function copyToRemote(c: Connection, localPath: string, remotePath: string, logger: Logger): Promise<void> {
    const cancel = { cancelled: false };
    let client: import("ssh2").Client | undefined;
    const kill = () => { cancel.cancelled = true; client?.end(); };
    running.add(kill);
    try {
        // sftpCopy opens the local file first: a missing file fails before any dial.
        fs.closeSync(fs.openSync(localPath, "r"));
        client = await dial(c, logger, cancel);
        const sftp = await sftpOf(client);
        const st = await remoteStat(sftp, remotePath);
        // "If the file is f and the destination is existing dir/, copy to dir/f."
        const dest = st?.isDirectory() ? path.posix.join(remotePath, path.basename(localPath)) : remotePath;
        await new Promise<void>((resolve, reject) => sftp.fastPut(localPath, dest, (err) => {
            if (err) reject(new Error(`failed to copy file ${localPath} to remote path ${dest}: ${err.message}`));
            else resolve();
        }));
    } finally {
        running.delete(kill);
        client?.end();
    }
}
