#!/usr/bin/env python3
# Merge out_*.tsv (from `./h_X matrix`) into matrix.md
import re
files=[('http-parser','out_httpparser.tsv'),('llhttp','out_llhttp.tsv'),('llhttp-strict','out_llhttp_strict.tsv'),('beast','out_beast.tsv')]
rows={}; order=[]; rfc={}
for name,f in files:
    for line in open(f,encoding='latin1'):
        p=line.rstrip('\n').split('\t')
        cid=p[1]; rfc[cid]=p[2]
        if cid not in rows: rows[cid]={}; order.append(cid)
        v=p[3]; d=p[4] if len(p)>4 else ''
        cell=v
        msgs0=re.findall(r'\[([^\]]*)\]',d)
        if v in('ACC','UPG','INC') or (v=='REJ' and msgs0):
            msgs=re.findall(r'\[([^\]]*)\]',d)
            info=[]
            for m in msgs:
                b=re.search(r'body=(\d+)',m); e=re.search(r'end=(\d+)',m)
                s='b%s'%b.group(1)
                if ' chunked' in m: s+='c'
                info.append(s)
            cell=(v if v!='REJ' else 'ACC')+' '+','.join(info)
            if v=='REJ':
                e=re.search(r'err=([^@(]+)',d); cell+=' →next msg REJ '+(e.group(1).replace('HPE_','') if e else '')
        elif v=='REJ':
            e=re.search(r'err=([^@(]+)',d); cell+=' '+(e.group(1).replace('HPE_','') if e else '')
        rows[cid][name]=cell
with open('matrix.md','w') as o:
    o.write('| case | RFC | '+' | '.join(n for n,_ in files)+' |\n|'+'---|'*(len(files)+2)+'\n')
    for c in order:
        o.write('| %s | %s | '%(c,rfc[c])+' | '.join(rows[c].get(n,'') for n,_ in files)+' |\n')
